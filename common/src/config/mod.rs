//! Configuration from environment variables, in two phases: every variable is declared
//! once as a [`VarSpec`] (the table `logpipe config` prints), then read through [`Env`]
//! into typed settings that are validated before any work starts.

pub mod duration_serde;
mod env;
mod error;
mod render;
mod search;
mod shared;
mod spec;

pub use env::{Env, UnknownVar};
pub use error::ConfigError;
pub use render::render_section;
pub use search::{SEARCH_VARS, SearchConfig};
pub use shared::{
    KAFKA_BROKERS, KAFKA_PROPERTY_PREFIX, LISTEN_ADDRESS, SHARED_VARS, SharedConfig, host_name,
    vars as shared_vars,
};
pub use spec::{Kind, VarSpec};
