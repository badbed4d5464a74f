//! `cap-bridge`: the same program on a real arm. This crate holds the bridge protocol
//! ([`protocol`]: versioned JSON messages that mirror ROS 2's, each checked against the
//! robot's own `hello`) and the conversion of a trajectory the safety gate admitted
//! into a goal ([`goal`]), cap's WebSocket client with its link watchdog ([`client`]),
//! the robot as the arm a world mirrors ([`remote`], what `cap exec --robot` drives),
//! and a simulated arm server with fault injection for tests ([`server`]).

pub mod client;
pub mod goal;
pub mod link;
pub mod plant;
pub mod protocol;
pub mod remote;
pub mod server;
pub mod trajectory;

pub use protocol::{ClientMessage, ProtocolError, ServerMessage, PROTOCOL_VERSION};
