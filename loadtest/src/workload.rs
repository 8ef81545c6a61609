//! What to send: the key distribution, value sizes, the SET:GET mix or command templates.

use rand::Rng;
use std::sync::Arc;

/// How keys are picked.
#[derive(Clone, Debug)]
pub enum KeyPattern {
    /// Every key equally likely.
    Uniform,
    /// Zipf with exponent S: key rank r has weight 1/r^S (rank 1 = key 0). Sampled by binary
    /// search over a precomputed CDF shared by all threads.
    Zipf(Arc<Vec<f64>>),
    /// Keys in order, 0, 1, 2, … shared by every connection of the run (so `--requests N`
    /// with `--keys N` writes every key exactly once: a fill).
    Sequential,
}

impl KeyPattern {
    /// Parses "uniform", "zipf:S" or "sequential" for `keys` keys.
    pub fn parse(s: &str, keys: u64) -> Result<KeyPattern, String> {
        match s {
            "uniform" => Ok(KeyPattern::Uniform),
            "sequential" => Ok(KeyPattern::Sequential),
            _ => {
                let exp: f64 = s
                    .strip_prefix("zipf:")
                    .and_then(|e| e.parse().ok())
                    .filter(|e: &f64| e.is_finite() && *e > 0.0)
                    .ok_or_else(|| format!("invalid --key-pattern {s:?}: use uniform, zipf:S (S > 0) or sequential"))?;
                if keys > 50_000_000 {
                    return Err("zipf supports up to 50M keys".into());
                }
                let mut cdf = Vec::with_capacity(keys as usize);
                let mut total = 0.0;
                for r in 1..=keys {
                    total += 1.0 / (r as f64).powf(exp);
                    cdf.push(total);
                }
                for v in cdf.iter_mut() {
                    *v /= total;
                }
                Ok(KeyPattern::Zipf(Arc::new(cdf)))
            }
        }
    }

    /// The next key index in 0..keys (`seq` is the run's shared sequential counter).
    #[inline]
    pub fn next(&self, rng: &mut impl Rng, keys: u64, seq: &std::sync::atomic::AtomicU64) -> u64 {
        match self {
            KeyPattern::Uniform => rng.gen_range(0..keys),
            KeyPattern::Zipf(cdf) => {
                let u: f64 = rng.gen();
                (cdf.partition_point(|&c| c < u) as u64).min(keys - 1)
            }
            KeyPattern::Sequential => seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % keys,
        }
    }
}

/// Value sizes: fixed or a uniform range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataSize {
    /// Smallest.
    pub min: usize,
    /// Largest.
    pub max: usize,
}

impl DataSize {
    /// Parses "100" or "32-512".
    pub fn parse(s: &str) -> Result<DataSize, String> {
        let bad = || format!("invalid --data-size {s:?}: use N or MIN-MAX");
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let v = s.trim().parse().map_err(|_| bad())?;
                (v, v)
            }
        };
        if a > b || b > 512 * 1024 * 1024 {
            return Err(bad());
        }
        Ok(DataSize { min: a, max: b })
    }

    /// A size.
    #[inline]
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        if self.min == self.max {
            self.min
        } else {
            rng.gen_range(self.min..=self.max)
        }
    }
}

/// Parses "SET:GET" weights.
pub fn parse_ratio(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("invalid --ratio {s:?}: use SET:GET, e.g. 1:10");
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 && b == 0 {
        return Err(bad());
    }
    Ok((a, b))
}

/// One argument of a command template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes.
    Lit(Vec<u8>),
    /// The key (`__key__`, possibly inside a larger word).
    Key(Vec<u8>, Vec<u8>),
    /// The data (`__data__`).
    Data,
}

/// A command template with its weight and display name.
#[derive(Clone, Debug)]
pub struct Template {
    /// Display name (the command word, upper-case).
    pub name: String,
    /// Relative weight.
    pub weight: u32,
    /// Arguments.
    pub parts: Vec<Part>,
}

impl Template {
    /// Appends the RESP request for `key` and `data`, straight into `out` (no allocation).
    pub fn encode(&self, out: &mut Vec<u8>, key: &[u8], data: &[u8]) {
        crate::resp::header(out, b'*', self.parts.len());
        for part in &self.parts {
            match part {
                Part::Lit(l) => crate::resp::bulk(out, &[l]),
                Part::Key(pre, post) => crate::resp::bulk(out, &[pre, key, post]),
                Part::Data => crate::resp::bulk(out, &[data]),
            }
        }
    }

    /// Parses `[N:]CMD arg …` with `__key__` and `__data__` placeholders.
    pub fn parse(s: &str) -> Result<Template, String> {
        let (weight, body) = match s.split_once(':') {
            Some((w, rest)) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => {
                (w.parse().map_err(|_| format!("bad weight in {s:?}"))?, rest)
            }
            _ => (1, s),
        };
        let words: Vec<&str> = body.split_whitespace().collect();
        let first = words
            .first()
            .ok_or_else(|| format!("empty --command {s:?}"))?;
        let parts = words
            .iter()
            .map(|w| {
                if *w == "__data__" {
                    Part::Data
                } else if let Some(i) = w.find("__key__") {
                    Part::Key(w.as_bytes()[..i].to_vec(), w.as_bytes()[i + 7..].to_vec())
                } else {
                    Part::Lit(w.as_bytes().to_vec())
                }
            })
            .collect();
        Ok(Template {
            name: first.to_ascii_uppercase(),
            weight,
            parts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ratio_and_sizes() {
        assert_eq!(parse_ratio("1:10"), Ok((1, 10)));
        assert_eq!(parse_ratio("0:1"), Ok((0, 1)));
        assert!(parse_ratio("1").is_err());
        assert!(parse_ratio("0:0").is_err());
        assert_eq!(DataSize::parse("100"), Ok(DataSize { min: 100, max: 100 }));
        assert_eq!(
            DataSize::parse("32-512"),
            Ok(DataSize { min: 32, max: 512 })
        );
        assert!(DataSize::parse("9-3").is_err());
    }

    #[test]
    fn templates() {
        let t = Template::parse("3:HSET user:__key__:h f __data__").expect("ok");
        assert_eq!(t.weight, 3);
        assert_eq!(t.name, "HSET");
        assert_eq!(t.parts[1], Part::Key(b"user:".to_vec(), b":h".to_vec()));
        assert_eq!(t.parts[3], Part::Data);
        assert_eq!(Template::parse("GET __key__").expect("ok").weight, 1);
        assert!(Template::parse("  ").is_err());
        let mut out = Vec::new();
        t.encode(&mut out, b"key:7", b"xyz");
        assert_eq!(
            out,
            b"*4\r\n$4\r\nHSET\r\n$12\r\nuser:key:7:h\r\n$1\r\nf\r\n$3\r\nxyz\r\n".to_vec()
        );
    }

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let p = KeyPattern::parse("zipf:0.99", 1000).expect("zipf");
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut counts = vec![0u32; 1000];
        let seq = std::sync::atomic::AtomicU64::new(0);
        for _ in 0..100_000 {
            let k = p.next(&mut rng, 1000, &seq);
            assert!(k < 1000);
            counts[k as usize] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(0);
        assert_eq!(counts[0], max, "rank 1 must be the most frequent");
        assert!(counts[0] > 10 * counts[500].max(1));
        let s = KeyPattern::parse("sequential", 3).expect("seq");
        let got: Vec<u64> = (0..5).map(|_| s.next(&mut rng, 3, &seq)).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1]);
        assert!(KeyPattern::parse("zipf:x", 10).is_err());
        assert!(KeyPattern::parse("bogus", 10).is_err());
    }
}
