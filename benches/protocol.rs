//! RESP request framing and reply encoding.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use synap::protocol::{Limits, Parsed, Parser, Reply};

fn pipeline(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        let k = format!("key:{i:012}");
        v.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$100\r\n", k.len()).as_bytes(),
        );
        v.extend_from_slice(&[b'x'; 100]);
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn parse(c: &mut Criterion) {
    let data = pipeline(16);
    let limits = Limits::default();
    let mut g = c.benchmark_group("resp_parse");
    g.throughput(Throughput::Elements(16));
    g.bench_function("set_100b_x16", |b| {
        let mut p = Parser::default();
        b.iter(|| {
            let mut off = 0;
            let mut args = 0;
            while let Ok(Parsed::Command(n)) = p.parse(&data[off..], &limits) {
                let mut argv: Vec<&[u8]> = Vec::new();
                p.args(&data[off..], &mut argv);
                args += criterion::black_box(&argv).len();
                off += n;
            }
            (off, args)
        })
    });
    let inline = b"SET key:000000000001 hello\r\n".repeat(16);
    g.bench_function("inline_x16", |b| {
        let mut p = Parser::default();
        b.iter(|| {
            let mut off = 0;
            while let Ok(Parsed::Command(n)) = p.parse(&inline[off..], &limits) {
                off += n;
            }
            off
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let value = vec![b'x'; 100];
    let mut g = c.benchmark_group("resp_encode");
    g.throughput(Throughput::Elements(16));
    let mut out = Vec::with_capacity(4096);
    g.bench_function("bulk_100b_x16", |b| {
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            for _ in 0..16 {
                r.bulk(&value);
            }
            out.len()
        })
    });
    g.bench_function("ok_and_int_x16", |b| {
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            for i in 0..8 {
                r.ok();
                r.int(i * 12345);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = parse, encode
}
criterion_main!(benches);
