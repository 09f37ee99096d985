//! Reports: the analysis as text for a person, as JSON for CI.

pub mod json;
pub mod junit;
pub mod metrics;
pub mod model;
pub mod text;

pub use crate::text::{fmt_time, fmt_utc, sanitize};
