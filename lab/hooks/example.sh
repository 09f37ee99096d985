# Example guest hook (LVSDIAG_GUEST_HOOK=lab/hooks/example.sh). Sourced by the
# guest after the scenario, with lib.sh helpers available and captures stopped.
# Everything written below $OUT comes back (use `lab/run --out SCRATCH_DIR`).
mkdir -p "$OUT/hook"
ls -l "$OUT" > "$OUT/hook/files.txt"
if command -v lvsdiag >/dev/null 2>&1; then
	# replace with the real invocation, e.g. analysing all captures of the run
	lvsdiag --help > "$OUT/hook/lvsdiag-help.txt" 2>&1 || true
	glog "hook: lvsdiag present ($(command -v lvsdiag))"
fi
