//! Which methods each documented path accepts, read once from the spec, so a 405 can carry the
//! `Allow` header that RFC 9110 requires and metrics can be labelled by route template; and
//! which query parameters each operation reads, so that they can be checked before it runs.

use serde_json::Value;

pub struct RouteTable {
    /// (template, its segments, its methods).
    routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<String>,
    methods: Vec<String>,
    /// (method, the names of the query parameters its operation declares).
    query: Vec<(String, Vec<String>)>,
}

impl RouteTable {
    pub fn from_spec(spec: &Value) -> Self {
        let routes = spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let template = template.clone();
                let operations = item.as_object().into_iter().flatten();
                let methods = operations
                    .clone()
                    .map(|(method, _)| method.to_uppercase())
                    .collect();
                let query = operations
                    .map(|(method, operation)| (method.to_uppercase(), query_names(operation)))
                    .collect();
                Route {
                    template,
                    segments,
                    methods,
                    query,
                }
            })
            .collect();
        Self { routes }
    }

    /// The `Allow` value for `path`, or `None` when no documented path matches.
    pub fn allowed(&self, path: &str) -> Option<String> {
        self.find(path).map(|route| route.methods.join(", "))
    }

    /// The documented template that `path` matches (`/v1/users/{user_id}`), for metric labels.
    /// Runs on every request, so it allocates nothing.
    pub fn template(&self, path: &str) -> Option<&str> {
        self.find(path).map(|route| route.template.as_str())
    }

    /// The query parameters that the operation at `method` and `path` declares.
    pub fn query_params(&self, method: &str, path: &str) -> &[String] {
        self.find(path)
            .and_then(|route| route.query.iter().find(|(m, _)| m == method))
            .map_or(&[], |(_, names)| names.as_slice())
    }

    fn find(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|route| {
            let mut segments = path.split('/');
            route.segments.iter().all(|t| {
                segments
                    .next()
                    .is_some_and(|s| t.starts_with('{') || t == s)
            }) && segments.next().is_none()
        })
    }
}

fn query_names(operation: &Value) -> Vec<String> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|parameter| parameter["in"] == "query")
        .filter_map(|parameter| parameter["name"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_the_matching_template() {
        let spec = serde_json::json!({"paths": {
            "/v1/me": {"get": {}, "patch": {}},
            "/v1/users/{id}": {"delete": {}},
            "/v1/users": {"get": {"parameters": [
                {"name": "limit", "in": "query"}, {"name": "If-Match", "in": "header"}
            ]}}
        }});
        let table = RouteTable::from_spec(&spec);
        assert_eq!(table.allowed("/v1/me").as_deref(), Some("GET, PATCH"));
        assert_eq!(table.allowed("/v1/users/42").as_deref(), Some("DELETE"));
        assert_eq!(table.allowed("/v1/nothing"), None);
        assert_eq!(table.template("/v1/users/42"), Some("/v1/users/{id}"));
        assert_eq!(table.template("/v1/nothing"), None);
        assert_eq!(table.query_params("GET", "/v1/users"), ["limit"]);
        assert!(table.query_params("GET", "/v1/me").is_empty());
        assert!(table.query_params("POST", "/v1/users").is_empty());
    }
}
