//! Property: any sequence of messages, with any automatic fragmentation, crosses a client-server
//! pair in both directions intact, however the byte streams are cut into reads.

use proptest::prelude::*;

use super::*;

/// A message of `len` bytes; text mixes one- to four-byte code points so that fragment and read
/// boundaries fall inside them.
fn make_message(text: bool, len: usize, seed: u8) -> Message {
    if text {
        let mut s = String::with_capacity(len + 4);
        let alphabet = ['a', 'é', '€', '𝄞', 'z', 'ж'];
        let mut i = usize::from(seed);
        while s.len() < len {
            s.push(alphabet[i % alphabet.len()]);
            i = i.wrapping_mul(31).wrapping_add(7);
        }
        Message::text(s)
    } else {
        Message::binary(
            (0..len)
                .map(|i| (i as u8).wrapping_mul(seed | 1))
                .collect::<Vec<u8>>(),
        )
    }
}

fn message_strategy() -> impl Strategy<Value = Message> {
    (
        any::<bool>(),
        prop_oneof![0usize..200, 0usize..70_000],
        any::<u8>(),
    )
        .prop_map(|(text, len, seed)| make_message(text, len, seed))
}

fn fragment_size_strategy() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        Just(None),
        (1usize..64).prop_map(Some),
        (64usize..20_000).prop_map(Some)
    ]
}

/// Sends `sent` from `from` to `to`, delivering the bytes in reads of the sizes in `reads`
/// (cycled), and returns what `to` received.
fn deliver(
    from: &mut Connection,
    to: &mut Connection,
    sent: &[Message],
    reads: &[usize],
) -> Vec<Message> {
    for message in sent {
        from.send(message.clone()).unwrap();
    }
    let bytes = transmit(from);
    let mut received = Vec::new();
    let mut offset = 0;
    for read in reads.iter().cycle() {
        if offset == bytes.len() {
            break;
        }
        let end = (offset + read).min(bytes.len());
        to.read_buffer().extend_from_slice(&bytes[offset..end]);
        offset = end;
        received.extend(messages(to));
    }
    received
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn messages_arrive_identical_in_both_directions_for_any_chunking(
        to_server in proptest::collection::vec(message_strategy(), 0..6),
        to_client in proptest::collection::vec(message_strategy(), 0..6),
        client_fragments in fragment_size_strategy(),
        server_fragments in fragment_size_strategy(),
        reads in proptest::collection::vec(
            prop_oneof![1usize..16, 1usize..5_000, 5_000usize..100_000], 1..10),
    ) {
        let mut client = client(Config::default().with_fragment_size(client_fragments));
        let mut server = server(Config::default().with_fragment_size(server_fragments));
        let at_server = deliver(&mut client, &mut server, &to_server, &reads);
        prop_assert_eq!(at_server, to_server);
        let at_client = deliver(&mut server, &mut client, &to_client, &reads);
        prop_assert_eq!(at_client, to_client);
    }
}
