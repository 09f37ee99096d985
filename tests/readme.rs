//! README.md states the code: its finding table lists exactly the checks
//! of the registry, in its order, and every source path it names exists.

use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn the_finding_table_is_the_registry() {
    let text = readme();
    let table = text
        .split("\n## Findings\n")
        .nth(1)
        .expect("a ## Findings section");
    let codes: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let registry: Vec<&str> = lvsdiag::checks::REGISTRY.iter().map(|r| r.code).collect();
    assert_eq!(
        codes, registry,
        "README's finding table and checks::REGISTRY differ"
    );
    // One check per file, named after its code.
    for code in registry {
        let file = format!("src/checks/{}.rs", code.replace('-', "_"));
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(&file).is_file(),
            "{code}: no {file}"
        );
    }
}

#[test]
fn every_source_path_the_readme_names_exists() {
    let text = readme();
    for word in text.split(|c: char| c == '`' || c.is_whitespace() || c == '(' || c == ')') {
        let w = word.trim_end_matches([',', '.', ';', ':']);
        if (w.starts_with("src/") || w.starts_with("tests/")) && w.ends_with(".rs") {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(w).exists(),
                "README names {w}, which does not exist"
            );
        }
    }
}
