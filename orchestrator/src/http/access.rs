//! Who may call each route. Pages and API routes are only added through [`Routes`], which takes
//! the least role a route needs with the route itself: a route without a rule cannot be written.
//! The rule travels with the request ([`Need`]) and the session and token extractors refuse a
//! caller whose role is lower, with 403, before the handler runs. A route's rule can also ask
//! that the caller prove again who they are ([`Need::confirm`]): the dangerous actions.

use std::collections::BTreeMap;

use axum::Extension;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, on};

use crate::http::state::Web;
use crate::users::Role;

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The least role.
    pub role: Role,
    /// True for the dangerous actions: the caller types their password again (or, signed in
    /// through the identity provider, signed in within the last minutes; an API token must be
    /// allowed to confirm, or the request carry the owner's password).
    pub confirm: bool,
}

/// One route's rule, for the role matrix and the documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The method.
    pub method: Method,
    /// The route's path pattern (`/apps/{name}`).
    pub path: &'static str,
    /// What it asks.
    pub need: Need,
}

/// Routes with their rules.
#[derive(Default)]
pub struct Routes {
    paths: BTreeMap<&'static str, MethodRouter<Web>>,
    rules: Vec<Rule>,
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Routes::default()
    }

    /// `GET path`, for `role` and above.
    pub fn get<H: Handler<T, Web>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::GET, path, Need { role, confirm: false }, on(method_filter(&Method::GET), handler))
    }

    /// `POST path`, for `role` and above.
    pub fn post<H: Handler<T, Web>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::POST, path, Need { role, confirm: false }, on(method_filter(&Method::POST), handler))
    }

    /// `PUT path`, for `role` and above.
    pub fn put<H: Handler<T, Web>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::PUT, path, Need { role, confirm: false }, on(method_filter(&Method::PUT), handler))
    }

    /// `PATCH path`, for `role` and above.
    pub fn patch<H: Handler<T, Web>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::PATCH, path, Need { role, confirm: false }, on(method_filter(&Method::PATCH), handler))
    }

    /// `DELETE path`, for `role` and above.
    pub fn delete<H: Handler<T, Web>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::DELETE, path, Need { role, confirm: false }, on(method_filter(&Method::DELETE), handler))
    }

    /// A dangerous action (`POST` or `DELETE`): `role` and above, who confirm who they are.
    pub fn dangerous<H: Handler<T, Web>, T: 'static>(
        self,
        method: Method,
        path: &'static str,
        role: Role,
        handler: H,
    ) -> Self {
        let router = on(method_filter(&method), handler);
        self.add(method, path, Need { role, confirm: true }, router)
    }

    /// A route whose method router is built by the caller (to add a layer), with its rule.
    pub fn add(mut self, method: Method, path: &'static str, need: Need, router: MethodRouter<Web>) -> Self {
        assert!(!self.rules.iter().any(|r| r.method == method && r.path == path), "{method} {path} is routed twice");
        let router = router.layer(Extension(need));
        let merged = match self.paths.remove(path) {
            Some(existing) => existing.merge(router),
            None => router,
        };
        self.paths.insert(path, merged);
        self.rules.push(Rule { method, path, need });
        self
    }

    /// Both sets of routes.
    pub fn merge(mut self, other: Routes) -> Self {
        for rule in &other.rules {
            assert!(!self.rules.contains(rule), "{} {} is routed twice", rule.method, rule.path);
        }
        for (path, router) in other.paths {
            let merged = match self.paths.remove(path) {
                Some(existing) => existing.merge(router),
                None => router,
            };
            self.paths.insert(path, merged);
        }
        self.rules.extend(other.rules);
        self
    }

    /// The rules, in the order the routes were added.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The router.
    pub fn into_router(self) -> axum::Router<Web> {
        self.paths.into_iter().fold(axum::Router::new(), |router, (path, methods)| router.route(path, methods))
    }
}

fn method_filter(method: &Method) -> axum::routing::MethodFilter {
    axum::routing::MethodFilter::try_from(method.clone()).expect("a method routes can take")
}

/// Every page and API route's rule: the role matrix is drawn from it.
pub fn rules() -> Vec<Rule> {
    crate::http::ui::routes().merge(crate::http::api::routes()).rules().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What everyone does to their own: sign out, their tokens, their account.
    const SELF_SERVICE: [&str; 4] = ["/logout", "/tokens", "/api/v1/tokens", "/account"];

    #[test]
    fn every_route_has_one_rule_and_changes_need_more_than_viewing() {
        let rules = rules();
        assert!(rules.len() > 80, "pages and API routes: {}", rules.len());
        for rule in &rules {
            if rule.method != Method::GET {
                assert!(
                    rule.need.role > Role::Viewer || SELF_SERVICE.iter().any(|p| rule.path.starts_with(p)),
                    "{} {} changes something: a viewer may not",
                    rule.method,
                    rule.path
                );
            }
        }
        let dangerous: Vec<_> = rules.iter().filter(|r| r.need.confirm).map(|r| (r.method.as_str(), r.path)).collect();
        for expected in [
            ("POST", "/apps/{name}/delete"),
            ("POST", "/apps/{name}/copies/{copy}/delete"),
            ("POST", "/apps/{name}/copies/{copy}/restore"),
            ("DELETE", "/api/v1/apps/{name}"),
            ("DELETE", "/api/v1/apps/{name}/copies/{copy}"),
            ("POST", "/api/v1/apps/{name}/copies/{copy}/restore"),
            ("DELETE", "/api/v1/users/{name}"),
        ] {
            assert!(dangerous.contains(&expected), "{expected:?} is not marked dangerous: {dangerous:?}");
        }
    }
}
