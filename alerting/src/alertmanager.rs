//! Alertmanager inside Vigil (issue 16, point 2), built up from its parts: label matchers as
//! Alertmanager parses them ([`matchers`]) the routing tree ([`route`]) and time intervals
//! ([`timeinterval`]); receivers, silences and the v2 API follow.

pub mod matchers;
pub mod route;
pub mod timeinterval;
