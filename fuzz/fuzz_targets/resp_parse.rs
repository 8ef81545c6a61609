//! Fuzzes the RESP request parser: any bytes, fed whole and then split at a fuzzer-chosen point
//! (the resumable path), must frame the same commands, never panic, and always make progress.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synap::protocol::{Limits, Parsed, Parser};

fn frame_all(chunks: &[&[u8]], limits: &Limits) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut buf: Vec<u8> = Vec::new();
    let mut p = Parser::default();
    let mut start = 0;
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match p.parse(&buf[start..], limits) {
                Ok(Parsed::Command(n)) => {
                    assert!(n > 0 && start + n <= buf.len());
                    let mut args = Vec::new();
                    p.args(&buf[start..], &mut args);
                    assert!(!args.is_empty());
                    out.push(args.iter().map(|a| a.to_vec()).collect());
                    start += n;
                }
                Ok(Parsed::Skip(n)) => {
                    assert!(n > 0);
                    start += n;
                }
                Ok(Parsed::Incomplete(_)) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bulk_len: 1 << 20,
        max_multibulk_len: 1 << 16,
        max_inline_len: 1 << 12,
    };
    let whole = frame_all(&[data], &limits);
    if data.len() > 1 {
        let cut = data[0] as usize % data.len();
        let split = frame_all(&[&data[..cut], &data[cut..]], &limits);
        // Where neither run hit an error, splitting must not change what was framed.
        if !whole.1 && !split.1 {
            assert_eq!(whole.0, split.0);
        }
    }
});
