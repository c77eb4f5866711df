//! Label names as Prometheus-style systems make them of free-form keys.

/// `key` as a legacy Prometheus label name: every character but `[a-zA-Z0-9_]` as `_`, a
/// leading digit behind `_` (`http.method` → `http_method`, `1st` → `_1st`), as Loki names
/// parsed keys, Tempo's metrics-generator its dimensions, and Vigil TraceQL rules' labels.
pub fn sanitize(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_label_names() {
        assert_eq!(sanitize("http.method"), "http_method");
        assert_eq!(sanitize("k8s.pod-name"), "k8s_pod_name");
        assert_eq!(sanitize("1st"), "_1st");
        assert_eq!(sanitize("ünï"), "_n_");
        assert_eq!(sanitize("ok_9"), "ok_9");
    }
}
