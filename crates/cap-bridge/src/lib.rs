//! `cap-bridge`: the same program on a real arm. This crate holds the bridge protocol
//! ([`protocol`]: versioned JSON messages that mirror ROS 2's, each checked against the
//! robot's own `hello`) and the conversion of a trajectory the safety gate admitted
//! into a goal ([`goal`]), cap's WebSocket client with its link watchdog ([`client`]),
//! and a simulated arm server with fault injection for tests ([`server`]). The Python
//! SDK and `cap exec --robot` build on them (issue 20, in progress).

pub mod client;
pub mod goal;
pub mod link;
pub mod protocol;
pub mod server;

pub use protocol::{ClientMessage, ProtocolError, ServerMessage, PROTOCOL_VERSION};
