//! Which methods each documented path accepts, read once from the spec, so a 405 can carry the
//! `Allow` header that RFC 9110 requires and metrics can be labelled by route template.

use serde_json::Value;

pub struct RouteTable {
    /// (template, its segments, its methods).
    routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<String>,
    methods: Vec<String>,
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
                let methods = item
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(method, _)| method.to_uppercase())
                    .collect();
                Route {
                    template,
                    segments,
                    methods,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_the_matching_template() {
        let spec = serde_json::json!({"paths": {
            "/v1/me": {"get": {}, "patch": {}},
            "/v1/users/{id}": {"delete": {}}
        }});
        let table = RouteTable::from_spec(&spec);
        assert_eq!(table.allowed("/v1/me").as_deref(), Some("GET, PATCH"));
        assert_eq!(table.allowed("/v1/users/42").as_deref(), Some("DELETE"));
        assert_eq!(table.allowed("/v1/nothing"), None);
        assert_eq!(table.template("/v1/users/42"), Some("/v1/users/{id}"));
        assert_eq!(table.template("/v1/nothing"), None);
    }
}
