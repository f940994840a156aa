//! The DSS domain of deconflict: entities, wire types, request parsing and the ASTM F3548-21
//! rules (keys, OVNs, versions, state transitions, subscriber notification), over a storage
//! trait. No I/O happens here.

pub mod codec;
pub mod error;
pub mod ids;
pub mod limits;
pub mod memstate;
pub mod model;
pub mod names;
pub mod parse;
pub mod present;
pub mod rules;
pub mod store;
pub mod wire;

pub use error::{DssError, Result};
