#!/usr/bin/env python3
"""Writes the checked-in seed corpora under fuzz/seeds/<target>/ (deterministic; rerun after
changing an input layout). Layouts are documented at the top of each fuzz target."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(opcode, payload, mask=None, fin=True, rsv=0, force_len=None):
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if force_len is None else force_len
    mbit = 0x80 if mask else 0
    if n < 126 and force_len is None:
        head = bytes([first, mbit | n])
    elif n <= 0xFFFF:
        head = bytes([first, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, mbit | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def chunking(*sizes):
    return bytes([len(sizes)]) + bytes(sizes)


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


SERVER_NOLIMIT = 0x0E  # role server, limit usize::MAX
CLIENT_NOLIMIT = 0x0F
SERVER_125 = 0x04  # limit 125

# frame_decode: [flags][chunking][stream]
write("frame_decode", "masked_hello", bytes([SERVER_NOLIMIT]) + chunking() + frame(1, b"Hello", KEY))
write("frame_decode", "masked_stream_byte_by_byte", bytes([SERVER_NOLIMIT]) + chunking(1) +
      frame(1, b"Hel", KEY, fin=False) + frame(9, b"ping", KEY) + frame(0, b"lo", KEY) +
      frame(2, bytes(range(200)), KEY) + frame(8, b"\x03\xe8bye", KEY))
write("frame_decode", "unmasked_lengths", bytes([CLIENT_NOLIMIT]) + chunking(3, 1, 7) +
      frame(2, b"") + frame(1, b"x" * 125) + frame(2, b"y" * 126) + frame(2, b"z" * 300) +
      frame(10, b"pong"))
write("frame_decode", "len64_non_minimal", bytes([CLIENT_NOLIMIT]) + chunking(2, 9) +
      bytes([0x82, 127]) + struct.pack(">Q", 20) + b"q" * 20)
write("frame_decode", "non_minimal_len", bytes([SERVER_NOLIMIT]) + chunking() +
      frame(2, b"abc", KEY, force_len=3))
write("frame_decode", "over_limit", bytes([SERVER_125]) + chunking() + frame(2, b"w" * 200, KEY))
write("frame_decode", "reserved_bits", bytes([SERVER_NOLIMIT]) + chunking() + frame(1, b"r", KEY, rsv=4))
write("frame_decode", "reserved_opcode", bytes([CLIENT_NOLIMIT]) + chunking() + frame(3, b"r"))
write("frame_decode", "long_ping", bytes([CLIENT_NOLIMIT]) + chunking(1) + frame(9, b"p" * 126))
write("frame_decode", "top_bit_len", bytes([CLIENT_NOLIMIT]) + chunking() +
      bytes([0x82, 127]) + struct.pack(">Q", 1 << 63))

# handshake_request: [flags][chunking][stream]
REQUEST = (b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com:9001\r\nUpgrade: websocket\r\n"
           b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Origin: http://example.com\r\nSec-WebSocket-Protocol: superchat, chat\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
write("handshake_request", "valid_whole", b"\x00" + chunking() + REQUEST + frame(1, b"Hi", KEY))
write("handshake_request", "valid_byte_by_byte", b"\x00" + chunking(1) + REQUEST)
write("handshake_request", "valid_split_terminator", b"\x00" + chunking(len(REQUEST) - 2, 1) + REQUEST)
write("handshake_request", "small_limits", b"\x03" + chunking(5) + REQUEST)
write("handshake_request", "plain_get", b"\x00" + chunking() + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
write("handshake_request", "version_8", b"\x00" + chunking() +
      REQUEST.replace(b"Version: 13", b"Version: 8"))
write("handshake_request", "post", b"\x00" + chunking() + REQUEST.replace(b"GET", b"POST", 1))
write("handshake_request", "http10", b"\x00" + chunking() + REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0", 1))

# handshake_response: [flags][chunking][stream], {A} = the right accept value
RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: {A}\r\n")
write("handshake_response", "valid", b"\x00" + chunking() + RESPONSE + b"\r\n" + frame(1, b"hi"))
write("handshake_response", "valid_byte_by_byte", b"\x00" + chunking(1) + RESPONSE + b"\r\n")
write("handshake_response", "protocol", b"\x01" + chunking(9) + RESPONSE +
      b"Sec-WebSocket-Protocol: chat\r\n\r\n")
write("handshake_response", "unoffered_protocol", b"\x00" + chunking() + RESPONSE +
      b"Sec-WebSocket-Protocol: chat\r\n\r\n")
write("handshake_response", "extension", b"\x00" + chunking() + RESPONSE +
      b"Sec-WebSocket-Extensions: permessage-deflate; x=1\r\n\r\n")
write("handshake_response", "bad_accept", b"\x00" + chunking() +
      RESPONSE.replace(b"{A}", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") + b"\r\n")
write("handshake_response", "refused", b"\x00" + chunking() +
      b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
write("handshake_response", "small_limits", b"\x02" + chunking() + RESPONSE + b"\r\n")
write("handshake_response", "url", b"\x05" + chunking() + b"ws://[::1]:9001/a/b?c=d\n" +
      RESPONSE + b"Sec-WebSocket-Protocol: superchat\r\n\r\n")
write("handshake_response", "url_default_port", b"\x04" + chunking() + b"ws://localhost\n" +
      RESPONSE + b"\r\n")


# connection: [flags][op..]; receive op n<0x80 takes n+1 bytes
def recv(data):
    out = b""
    while data:
        piece, data = data[:128], data[128:]
        out += bytes([len(piece) - 1]) + piece
    return out


def recv_pieces(data, size):
    out = b""
    while data:
        piece, data = data[:size], data[size:]
        out += bytes([len(piece) - 1]) + piece
    return out


SEND_TEXT, SEND_BIN, PING, PONG, CLOSE, DRAIN, TICK, RELEASE, ENCODED, ONE = (
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89)
client_frames = (frame(1, "héllo".encode(), KEY) + frame(9, b"ping?", KEY) +
                 frame(2, b"a", KEY, fin=False) + frame(10, b"", KEY) + frame(0, b"b", KEY) +
                 frame(8, b"\x03\xe8done", KEY))
write("connection", "server_echo_close", b"\x00" + recv(client_frames) +
      bytes([SEND_TEXT, 10, DRAIN, CLOSE, 0, DRAIN]))
write("connection", "server_byte_by_byte", b"\x08" + recv_pieces(client_frames, 1) + bytes([DRAIN]))
write("connection", "server_we_close_first", b"\x00" + bytes([SEND_BIN, 50, CLOSE, 3, ONE, ONE]) +
      recv(frame(1, b"late", KEY) + frame(8, b"\x03\xe8", KEY)) + bytes([DRAIN]))
write("connection", "client_messages", b"\x01" + recv(frame(1, b"hi") + frame(9, b"") +
      frame(2, b"x" * 300) + frame(8, b"")) + bytes([SEND_TEXT, 3, PING, 4, DRAIN]))
write("connection", "limits_fragments", b"\x02" + recv(frame(1, b"a" * 100, KEY, fin=False) +
      frame(0, b"b" * 100, KEY, fin=False) + frame(0, b"c" * 150, KEY)) + bytes([DRAIN]))
write("connection", "fragment_size_sends", b"\x04" + bytes([SEND_TEXT, 40, SEND_BIN, 20, ENCODED, 9,
      DRAIN, PONG, 200, PING, 125]) + recv(frame(9, b"x", KEY)) + bytes([DRAIN]))
write("connection", "keepalive_timeout", b"\x06" + bytes([TICK, 25, DRAIN, TICK, 25, TICK, 40, DRAIN]))
write("connection", "keepalive_answered", b"\x06" + bytes([TICK, 21, DRAIN]) +
      recv(frame(10, b"", KEY)) + bytes([0x8A, TICK, 30, DRAIN]))
write("connection", "invalid_utf8_midframe", b"\x00" + recv_pieces(
      frame(1, "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited", KEY), 7) + bytes([DRAIN]))
write("connection", "big_frame_trickle", b"\x08" + recv(bytes([0x82, 0xFF]) +
      struct.pack(">Q", 60 << 20) + KEY) + b"".join(bytes([0, i]) for i in range(40)) +
      bytes([RELEASE]))
write("connection", "ping_flood", b"\x00" + recv(frame(9, b"p" * 125, KEY) * 60) + bytes([DRAIN]))

# utf8: [chunking][bytes]
write("utf8", "ascii", chunking() + b"hello, world " * 5)
write("utf8", "mixed_split", chunking(1, 2, 3) + "aé€𝄞z κόσμε".encode())
write("utf8", "invalid_mid", chunking(5) + "κόσμε".encode() + b"\xf4\x90\x80\x80edited")
write("utf8", "truncated", chunking() + b"abc\xe2\x82")
write("utf8", "surrogate", chunking(1) + b"\xed\xa0\x80")
write("utf8", "overlong", chunking() + b"\xc0\xaf")
write("utf8", "long_ascii_then_4byte", chunking(63, 1) + b"a" * 63 + "𝄞".encode() * 3)

# chat_input: [format: 0 plain, 1 JSON][UTF-8 text]
PLAIN, JSON = b"\x00", b"\x01"
write("chat_input", "plain_message", PLAIN + b"hello, world")
write("chat_input", "plain_nick", PLAIN + b"/nick alice")
write("chat_input", "plain_whisper", PLAIN + b"/w bob psst, over here")
write("chat_input", "plain_escaped_slash", PLAIN + b"//shrug")
write("chat_input", "plain_fake_server_line", PLAIN + b"hi\r\nuser5 left\rerror: x")
write("chat_input", "plain_unknown_command", PLAIN + b"/NICK\t" + "ünïcode".encode())
write("chat_input", "json_message", JSON + b'{"type":"message","text":"/not a command"}')
write("chat_input", "json_command", JSON + b'{"type":"command","text":"/whisper carol hi"}')
write("chat_input", "json_escapes", JSON + b'{"text":"a\\u2028b\\ud83d\\ude00\\n","type":"message","x":[1,{}]}')
write("chat_input", "json_bad", JSON + b'{"type":"message","text":')
write("chat_input", "json_other_type", JSON + b'{"type":"join","text":"x"}')
write("chat_input", "plain_empty", PLAIN)
