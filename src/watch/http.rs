//! `/metrics` over HTTP (tiny_http, one thread): Prometheus' text format,
//! or OpenMetrics when the scraper's Accept header asks for it.

use crate::report::metrics;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub addr: String,
}

impl MetricsServer {
    /// Listens on `addr` (an error names it and what to do).
    pub fn start(addr: &str, registry: Registry) -> Result<MetricsServer, String> {
        let server = tiny_http::Server::http(addr).map_err(|e| {
            format!("--metrics {addr}: cannot listen: {e} (another lvsdiag watch on this port? give --metrics ADDR:PORT)")
        })?;
        let addr = server
            .server_addr()
            .to_ip()
            .map_or_else(|| addr.to_string(), |a| a.to_string());
        let server = Arc::new(server);
        let s = server.clone();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(&s, &registry))
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        Ok(MetricsServer {
            server,
            thread: Some(thread),
            addr,
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(k: &str, v: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("ASCII header")
}

fn serve(server: &tiny_http::Server, registry: &Registry) {
    for req in server.incoming_requests() {
        let path = req.url().split('?').next().unwrap_or_default().to_string();
        let resp = match (req.method(), path.as_str()) {
            (tiny_http::Method::Get | tiny_http::Method::Head, "/metrics") => {
                let om = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Accept"))
                    .is_some_and(|h| metrics::wants_openmetrics(h.value.as_str()));
                let ct = if om {
                    metrics::OPENMETRICS_CONTENT_TYPE
                } else {
                    metrics::TEXT_CONTENT_TYPE
                };
                tiny_http::Response::from_string(metrics::encode(registry, om))
                    .with_header(header("Content-Type", ct))
            }
            (tiny_http::Method::Get, "/") => {
                tiny_http::Response::from_string("lvsdiag watch: metrics at /metrics\n")
                    .with_header(header("Content-Type", "text/plain; charset=utf-8"))
            }
            _ => tiny_http::Response::from_string("not found: lvsdiag serves /metrics\n")
                .with_status_code(404),
        };
        let _ = req.respond(resp);
    }
}
