//! Realistic NRO delegated-extended files for tests and benchmarks: thousands of
//! holders with mixed allocations, deterministic for a given seed.

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A file with `holders` holders (opaque-ids `100000`, `100001`, ...). IPv4 blocks
/// are carved from 10.0.0.0/8 and 100.64.0.0/10 with counts that are often not
/// powers of two; IPv6 from 2800::/12 (/40 to /48); ASNs from 64512 and
/// 4200000000 upwards. Some holders also get `available`/`reserved` noise lines.
pub fn generate(holders: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut lines = Vec::new();
    let mut v4_next: u64 = 0x0a00_0000; // 10.0.0.0
    let mut v6_next: u64 = 0; // index of /48s within 2800::/12
    let mut as_next: u64 = 64512;
    let countries = ["BR", "MX", "AR", "CL", "CO", "PE", "UY", "EC"];
    for i in 0..holders {
        let id = 100_000 + i;
        let cc = countries[rng.below(countries.len() as u64) as usize];
        // IPv4: 1 to 3 blocks of 256 .. 16384 addresses, some of odd sizes (768, 1280 ...).
        if rng.below(10) < 9 {
            for _ in 0..1 + rng.below(3) {
                let units = [1u64, 2, 3, 4, 5, 8, 12, 16, 64][rng.below(9) as usize];
                let count = units * 256;
                if v4_next + count > 0x0b00_0000 && v4_next < 0x6440_0000 {
                    v4_next = 0x6440_0000; // 100.64.0.0
                }
                let a = v4_next;
                v4_next += count + 256 * rng.below(2);
                lines.push(format!(
                    "test|{cc}|ipv4|{}.{}.{}.{}|{count}|20200101|allocated|{id}",
                    a >> 24,
                    (a >> 16) & 255,
                    (a >> 8) & 255,
                    a & 255
                ));
            }
        }
        // IPv6: a /40 to /48 for most holders.
        if rng.below(10) < 7 {
            let len = [40u64, 44, 48][rng.below(3) as usize];
            let size = 1u64 << (48 - len);
            v6_next = v6_next.div_ceil(size) * size;
            let idx = v6_next;
            v6_next += size;
            let b = 0x2800_0000_0000u64 + idx; // the /48 number within 2800::/12
            lines.push(format!("test|{cc}|ipv6|{:x}:{:x}:{:x}::|{len}|20200101|allocated|{id}", b >> 32, (b >> 16) & 0xffff, b & 0xffff));
        }
        // ASNs: one, sometimes a small range.
        let n = if rng.below(10) == 0 { 2 + rng.below(4) } else { 1 };
        let first = if rng.below(5) == 0 { 4_200_000_000 + as_next } else { as_next };
        as_next += n + rng.below(2);
        lines.push(format!("test|{cc}|asn|{first}|{n}|20200101|assigned|{id}"));
        if rng.below(20) == 0 {
            lines.push(format!("test|{cc}|ipv4|198.51.100.{}|1||available|", rng.below(200)));
        }
    }
    let mut out = format!("2.3|test|20260101|{}|19870101|20260101|+0000\n", lines.len());
    out.push_str(&format!("test|*|ipv4|*|{}|summary\n", lines.iter().filter(|l| l.contains("|ipv4|")).count()));
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}
