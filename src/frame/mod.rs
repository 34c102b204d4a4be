//! The frame layer (RFC 6455 section 5), sans-IO: header encoding and decoding, masking, opcodes
//! and close codes. Nothing here knows about sockets or tokio.

mod close_code;
mod codec;
mod header;
mod mask;
mod opcode;
mod role;

pub use close_code::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use codec::{encode_frame, Frame, FrameDecoder};
pub use header::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use mask::apply_mask;
pub use opcode::OpCode;
pub use role::Role;
