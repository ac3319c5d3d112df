//! The framing helpers of `ioman::net::framing`: whatever points the input is split at (as
//! reads split it), the decoders give back exactly the frames that were encoded, consume exactly
//! their bytes, and refuse oversized or malformed frames with a typed error as soon as that is
//! certain (never by waiting for, or buffering, what a peer announced).

use ioman::net::Outbox;
use ioman::net::framing::{
    Decoder, Delimited, FrameError, Frames, LengthPrefixed, Lines, Width, block, encode_block,
};
use proptest::prelude::*;

/// Feeds `stream` in pieces cut at `cuts` (as a connection would: unconsumed bytes are kept
/// and offered again with the next piece) and collects every frame.
#[track_caller]
fn decode_in_pieces<D: Decoder>(decoder: &D, stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(stream.len());
    points.sort_unstable();
    let (mut kept, mut frames, mut at) = (Vec::new(), Vec::new(), 0);
    for point in points {
        kept.extend_from_slice(&stream[at..point]);
        at = point;
        let mut walk = Frames::new(decoder, &kept);
        for frame in walk.by_ref() {
            frames.push(frame.expect("a valid stream decodes without errors").to_vec());
        }
        let used = walk.consumed();
        kept.drain(..used);
    }
    assert!(kept.is_empty(), "{} bytes left over", kept.len());
    frames
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)
}

proptest! {
    #[test]
    fn length_prefixed_frames_survive_any_split(
        frames in payloads(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        width in prop::sample::select(vec![Width::U16, Width::U32, Width::U64]),
        little in any::<bool>(),
        with_header in any::<bool>(),
    ) {
        let mut codec = LengthPrefixed::new(width, 300);
        if little { codec = codec.little_endian(); }
        if with_header { codec = codec.length_includes_header(); }
        let mut out = Outbox::new();
        for f in &frames {
            codec.encode(f, &mut out).unwrap();
        }
        prop_assert_eq!(decode_in_pieces(&codec, &out.to_vec(), &cuts), frames);
    }

    #[test]
    fn lines_survive_any_split(
        lines in prop::collection::vec("[^\r\n]{0,200}", 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        crlf in any::<bool>(),
    ) {
        let mut stream = Vec::new();
        for l in &lines {
            stream.extend_from_slice(l.as_bytes());
            stream.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let expected: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        prop_assert_eq!(decode_in_pieces(&Lines::new(1000), &stream, &cuts), expected);
    }

    #[test]
    fn delimited_frames_survive_any_split(
        frames in prop::collection::vec("[a-y]{0,100}", 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let codec = Delimited::new(&b"zz"[..], 100);
        let mut out = Outbox::new();
        for f in &frames {
            codec.encode(f.as_bytes(), &mut out);
        }
        let expected: Vec<Vec<u8>> = frames.iter().map(|f| f.as_bytes().to_vec()).collect();
        prop_assert_eq!(decode_in_pieces(&codec, &out.to_vec(), &cuts), expected);
    }

    #[test]
    fn a_block_is_complete_only_with_its_terminator(data in prop::collection::vec(any::<u8>(), 0..100), split in any::<usize>()) {
        let mut out = Outbox::new();
        encode_block(&data, b"\r\n", &mut out);
        let stream = out.to_vec();
        let cut = split % (stream.len() + 1);
        let partial = block(&stream[..cut], data.len(), b"\r\n", 1000).unwrap();
        prop_assert_eq!(partial, if cut == stream.len() { Some((&data[..], stream.len())) } else { None });
    }
}

#[test]
fn oversized_frames_are_refused_as_soon_as_that_is_certain() {
    let lines = Lines::new(4);
    assert_eq!(lines.decode(b"abcd\r"), Ok(None)); // may still end in \n
    assert_eq!(lines.decode(b"abcde"), Err(FrameError::TooLong { limit: 4 }));
    assert_eq!(lines.decode(b"abcde\n"), Err(FrameError::TooLong { limit: 4 }));
    assert_eq!(lines.decode(&[b'x'; 1 << 20]), Err(FrameError::TooLong { limit: 4 }));
    let codec = LengthPrefixed::new(Width::U32, 1 << 20);
    // Four bytes announcing 4 GiB: refused at once, nothing waited for.
    assert_eq!(codec.decode(b"\xff\xff\xff\xff"), Err(FrameError::TooLong { limit: 1 << 20 }));
    let mut out = Outbox::new();
    assert!(LengthPrefixed::new(Width::U8, 1000).encode(&[0; 256], &mut out).is_err());
    assert!(out.is_empty(), "a refused frame writes nothing");
    assert_eq!(block(b"", 2 << 20, b"\r\n", 1 << 20), Err(FrameError::TooLong { limit: 1 << 20 }));
    assert_eq!(Delimited::new(&b";"[..], 3).decode(b"abcd"), Err(FrameError::TooLong { limit: 3 }));
}

#[test]
fn malformed_frames_are_typed_errors() {
    let with_header = LengthPrefixed::new(Width::U16, 100).length_includes_header();
    assert!(matches!(with_header.decode(b"\x00\x01"), Err(FrameError::Malformed(_))));
    assert!(matches!(block(b"helloXX", 5, b"\r\n", 100), Err(FrameError::Malformed(_))));
    assert!(matches!(block(b"hello\rX", 5, b"\r\n", 100), Err(FrameError::Malformed(_))));
    assert!(matches!(block(b"helloX", 5, b"\r\n", 100), Err(FrameError::Malformed(_))));
    assert_eq!(block(b"hello\r", 5, b"\r\n", 100), Ok(None));
    // After an error, a walk stops.
    let mut walk = Frames::new(Lines::new(2), &b"ab\nabcdef\nab\n"[..]);
    assert_eq!(walk.next(), Some(Ok(&b"ab"[..])));
    assert!(matches!(walk.next(), Some(Err(FrameError::TooLong { .. }))));
    assert_eq!(walk.next(), None);
    assert_eq!(walk.consumed(), 3);
}

#[test]
fn both_byte_orders_and_header_counting_match_their_wire_format() {
    let mut out = Outbox::new();
    LengthPrefixed::new(Width::U32, 10).encode(b"abc", &mut out).unwrap();
    LengthPrefixed::new(Width::U16, 10).little_endian().encode(b"de", &mut out).unwrap();
    LengthPrefixed::new(Width::U8, 10).length_includes_header().encode(b"f", &mut out).unwrap();
    assert_eq!(out.to_vec(), b"\x00\x00\x00\x03abc\x02\x00de\x02f");
}
