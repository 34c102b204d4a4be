//! Handshake layer.
