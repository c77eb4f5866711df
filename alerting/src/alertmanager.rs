//! Alertmanager inside Vigil (issue 16, point 2), built up from its parts: label matchers as
//! Alertmanager parses them ([`matchers`]) and the routing tree ([`route`]); time intervals,
//! receivers, silences and the v2 API follow.

pub mod matchers;
pub mod route;
