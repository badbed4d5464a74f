//! `cap-bridge`: the same program on a real arm. This crate holds the bridge protocol
//! ([`protocol`]: versioned JSON messages that mirror ROS 2's, each checked against the
//! robot's own `hello`) and the conversion of a trajectory the safety gate admitted
//! into a goal ([`goal`]). The WebSocket client with its watchdog, the simulated arm
//! server and the Python SDK build on them (issue 20, in progress).

pub mod goal;
pub mod protocol;

pub use protocol::{ClientMessage, ProtocolError, ServerMessage, PROTOCOL_VERSION};
