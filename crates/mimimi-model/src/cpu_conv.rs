//! A complex convolution on the CPU, written for this network's layers: Gauss's three real
//! products over im2col tiles they share.
//!
//! burn-flex computes each real convolution on its own: the input copied to channels-last,
//! im2col tiles, a gemm into a fresh buffer, the result scattered back one value at a time;
//! Gauss's form (`W_r∗re`, `W_i∗im`, `(W_r+W_i)∗(re+im)`) pays that three times. Here the
//! planes are transposed once so that patch rows run along frequency (the long axis), a tile's
//! patches are gathered from `re` and `im` (the third matrix is their sum: im2col is linear),
//! gemm multiplies the weights as stored (patch order `(c, kh, kw)`), and the three products
//! are combined while the tile is in cache. Natively the tiles run on rayon's threads; in the
//! page, one after the other. docs/speed.md has the measurements.

use crate::config::BlockSpec;
use std::ops::Range;

/// Output positions per tile, a multiple of gemm's 16-wide microkernel (a tile's positions can
/// span several output rows); the widest layer's patch matrices (1,575 rows) stay a few MB.
const TILE: usize = 512;

/// A complex convolution's weights and geometry, read from its two real convolutions.
pub(crate) struct ComplexKernel {
    /// `W_r`, `[c_out, c_in, kh, kw]`.
    pub wr: Vec<f32>,
    /// `W_i`, the same shape.
    pub wi: Vec<f32>,
    /// `b_r − b_i` and `b_r + b_i`, one per output channel (zeros without biases).
    pub bias_re: Vec<f32>,
    /// See `bias_re`.
    pub bias_im: Vec<f32>,
    /// Input channels.
    pub c_in: usize,
    /// Kernel, stride and padding (freq, time).
    pub spec: BlockSpec,
    /// Applied to every output value (a block's normalisation and activation), if any.
    pub epilogue: Option<Epilogue>,
}

/// What follows the convolution in a block, per output channel and part: `y ↦ scale·y + shift`
/// (eval-mode normalisation), then PReLU with `slope`. Applied as each tile is written, while
/// it is in cache.
#[derive(Clone)]
pub(crate) struct Epilogue {
    /// The real part's maps.
    pub re: Part,
    /// The imaginary part's maps.
    pub im: Part,
}

/// One part's per-channel maps in an [`Epilogue`], one value per output channel each.
#[derive(Clone)]
pub(crate) struct Part {
    /// Normalisation gain.
    pub scale: Vec<f32>,
    /// Normalisation offset.
    pub shift: Vec<f32>,
    /// PReLU slope for negative values.
    pub slope: Vec<f32>,
}

impl Part {
    /// Channel `c`'s map.
    fn at(&self, c: usize) -> impl Fn(f32) -> f32 {
        let (scale, shift, slope) = (self.scale[c], self.shift[c], self.slope[c]);
        move |y| {
            let y = y * scale + shift;
            if y >= 0.0 { y } else { slope * y }
        }
    }
}

/// How a feature map's two spatial axes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `[batch, channels, freq, time]`, as burn's convolutions take it.
    FreqMajor,
    /// `[batch, channels, time, freq]`: the kernel's own order.
    TimeMajor,
}

/// One complex feature map, channels first: `[batch, channels, height, width]` in the order
/// its [`Layout`] says.
pub(crate) struct Planes {
    /// Real part.
    pub re: Vec<f32>,
    /// Imaginary part.
    pub im: Vec<f32>,
    /// The four dimensions, in storage order.
    pub dims: [usize; 4],
}

/// The geometry of one call, in output terms.
#[derive(Clone, Copy)]
struct Shape {
    c_in: usize,
    c_out: usize,
    height: usize,
    width: usize,
    out_w: usize,
    /// Patch length, `c_in · kh · kw`.
    k: usize,
    spec: BlockSpec,
}

impl ComplexKernel {
    /// The convolution of `x` (`[b, c_in, h, w]` when `layout` is [`Layout::FreqMajor`],
    /// `[b, c_in, w, h]` when [`Layout::TimeMajor`]), in the same layout: `re' = W_r∗re −
    /// W_i∗im + (b_r − b_i)`, `im' = W_r∗im + W_i∗re + (b_r + b_i)`. `None` when the input is too
    /// small for the kernel or the shapes disagree (the caller then uses burn's own
    /// convolution).
    ///
    /// Computed time-major, so that the long axis, frequency (257–33 outputs in this network),
    /// is the one each patch row copies along, not time (32–4): a tenth of the short copies.
    /// Freq-major planes are transposed in and out; the network's trunk keeps its planes
    /// time-major from block to block instead.
    pub fn forward(&self, x: &Planes, layout: Layout) -> Option<Planes> {
        let c_out = self.spec.channels;
        let [kh, kw] = self.spec.kernel;
        let (wr, wi) = (
            transpose(&self.wr, c_out * self.c_in, kh, kw)?,
            transpose(&self.wi, c_out * self.c_in, kh, kw)?,
        );
        let time_major = ComplexKernel {
            wr,
            wi,
            bias_re: self.bias_re.clone(),
            bias_im: self.bias_im.clone(),
            epilogue: self.epilogue.clone(),
            c_in: self.c_in,
            spec: BlockSpec {
                channels: c_out,
                kernel: [kw, kh],
                stride: [self.spec.stride[1], self.spec.stride[0]],
                padding: [self.spec.padding[1], self.spec.padding[0]],
            },
        };
        match layout {
            Layout::TimeMajor => time_major.forward_rows(x),
            Layout::FreqMajor => {
                let [batch, c_in, height, width] = x.dims;
                let y = time_major.forward_rows(&Planes {
                    re: transpose(&x.re, batch * c_in, height, width)?,
                    im: transpose(&x.im, batch * c_in, height, width)?,
                    dims: [batch, c_in, width, height],
                })?;
                let [_, _, out_w, out_h] = y.dims;
                Some(Planes {
                    re: transpose(&y.re, batch * c_out, out_w, out_h)?,
                    im: transpose(&y.im, batch * c_out, out_w, out_h)?,
                    dims: [batch, c_out, out_h, out_w],
                })
            }
        }
    }

    /// [`Self::forward`] without the transposes: patch rows along `w`.
    fn forward_rows(&self, x: &Planes) -> Option<Planes> {
        let [batch, c_in, height, width] = x.dims;
        let spec = self.spec;
        let [kh, kw] = spec.kernel;
        let c_out = spec.channels;
        let k = c_in * kh * kw;
        let (out_h, out_w) = (spec.output_size(height, 0)?, spec.output_size(width, 1)?);
        let plane = c_in * height * width;
        if c_in != self.c_in
            || self.wr.len() != c_out * k
            || self.wi.len() != c_out * k
            || x.re.len() != batch * plane
            || x.im.len() != batch * plane
        {
            return None;
        }
        let shape = Shape {
            c_in,
            c_out,
            height,
            width,
            out_w,
            k,
            spec,
        };
        let ws: Vec<f32> = self.wr.iter().zip(&self.wi).map(|(r, i)| r + i).collect();
        let positions = out_h * out_w;
        let tiles_per_item = positions.div_ceil(TILE);
        let tile = |scratch: &mut Scratch, item: usize| {
            let (b, t) = (item / tiles_per_item, item % tiles_per_item);
            let span = t * TILE..((t + 1) * TILE).min(positions);
            let input = (
                &x.re[b * plane..(b + 1) * plane],
                &x.im[b * plane..(b + 1) * plane],
            );
            self.tile(&shape, &ws, input, span, scratch)
        };
        let items = batch * tiles_per_item;
        #[cfg(not(target_arch = "wasm32"))]
        let tiles: Vec<(Vec<f32>, Vec<f32>)> = {
            use rayon::prelude::*;
            (0..items)
                .into_par_iter()
                .map_init(Scratch::default, tile)
                .collect()
        };
        #[cfg(target_arch = "wasm32")]
        let tiles: Vec<(Vec<f32>, Vec<f32>)> = {
            let mut scratch = Scratch::default();
            (0..items).map(|item| tile(&mut scratch, item)).collect()
        };

        // Each tile holds `c_out` rows of its positions; put them in place.
        let out_plane = c_out * positions;
        let mut re = vec![0.0; batch * out_plane];
        let mut im = vec![0.0; batch * out_plane];
        for (item, (tile_re, tile_im)) in tiles.iter().enumerate() {
            let (b, t) = (item / tiles_per_item, item % tiles_per_item);
            let n = tile_re.len() / c_out;
            for c in 0..c_out {
                let at = b * out_plane + c * positions + t * TILE;
                re[at..at + n].copy_from_slice(&tile_re[c * n..(c + 1) * n]);
                im[at..at + n].copy_from_slice(&tile_im[c * n..(c + 1) * n]);
            }
        }
        Some(Planes {
            re,
            im,
            dims: [batch, c_out, out_h, out_w],
        })
    }

    /// Output positions `span` (row-major over `out_h × out_w`) of one example: `(re, im)`,
    /// each `[c_out, span.len()]`.
    fn tile(
        &self,
        shape: &Shape,
        ws: &[f32],
        (x_re, x_im): (&[f32], &[f32]),
        span: Range<usize>,
        scratch: &mut Scratch,
    ) -> (Vec<f32>, Vec<f32>) {
        let n = span.len();
        let (m, k) = (shape.c_out, shape.k);
        let Scratch {
            patches_re,
            patches_im,
            t2,
        } = scratch;
        // Reused from tile to tile: im2col and gemm overwrite every value they hand on.
        for buffer in [&mut *patches_re, &mut *patches_im] {
            buffer.resize(k * n, 0.0);
        }
        t2.resize(m * n, 0.0);
        im2col(shape, x_re, span.clone(), patches_re);
        im2col(shape, x_im, span, patches_im);

        let mut t1 = vec![0.0; m * n];
        let mut t3 = vec![0.0; m * n];
        matmul(&self.wr, patches_re, &mut t1, m, k, n);
        matmul(&self.wi, patches_im, t2, m, k, n);
        // The third patch matrix is the sum of the two (im2col is linear).
        for (s, i) in patches_re.iter_mut().zip(patches_im.iter()) {
            *s += i;
        }
        matmul(ws, patches_re, &mut t3, m, k, n);

        for c in 0..m {
            let (bias_re, bias_im) = (self.bias_re[c], self.bias_im[c]);
            let row = c * n..(c + 1) * n;
            let values = t1[row.clone()]
                .iter_mut()
                .zip(&t2[row.clone()])
                .zip(&mut t3[row]);
            match &self.epilogue {
                None => {
                    for ((a, b), s) in values {
                        *s = *s - *a - b + bias_im;
                        *a = *a - b + bias_re;
                    }
                }
                Some(epilogue) => {
                    let (re, im) = (epilogue.re.at(c), epilogue.im.at(c));
                    for ((a, b), s) in values {
                        *s = im(*s - *a - b + bias_im);
                        *a = re(*a - b + bias_re);
                    }
                }
            }
        }
        (t1, t3)
    }
}

/// One thread's buffers, reused from tile to tile (fresh ones cost zeroing and page faults).
#[derive(Default)]
struct Scratch {
    patches_re: Vec<f32>,
    patches_im: Vec<f32>,
    t2: Vec<f32>,
}

/// Fills `patches` (`[c_in · kh · kw, span.len()]`, row-major) with the input values each
/// output position of `span` reads, zero where the kernel reaches into the padding.
fn im2col(shape: &Shape, x: &[f32], span: Range<usize>, patches: &mut [f32]) {
    let [kh, kw] = shape.spec.kernel;
    let [sh, sw] = shape.spec.stride;
    let [ph, pw] = shape.spec.padding;
    let (height, width, out_w) = (shape.height, shape.width, shape.out_w);
    let n = span.len();
    for c in 0..shape.c_in {
        let channel = &x[c * height * width..(c + 1) * height * width];
        for i in 0..kh {
            for j in 0..kw {
                let patch_row = &mut patches[((c * kh + i) * kw + j) * n..][..n];
                // Output columns whose input column `ow·sw + j − pw` lies inside the input.
                let first = pw.saturating_sub(j).div_ceil(sw);
                let end = (width + pw)
                    .checked_sub(j)
                    .map_or(0, |span| span.div_ceil(sw))
                    .min(out_w);
                // The span, one output row's part at a time.
                let mut p = span.start;
                while p < span.end {
                    let (oh, from) = (p / out_w, p % out_w);
                    let to = out_w.min(from + span.end - p);
                    let dst = &mut patch_row[p - span.start..][..to - from];
                    p += to - from;
                    let (lo, hi) = (first.max(from), end.min(to));
                    let ih = (oh * sh + i).checked_sub(ph).filter(|&ih| ih < height);
                    let Some(ih) = ih.filter(|_| lo < hi) else {
                        dst.fill(0.0);
                        continue;
                    };
                    dst[..lo - from].fill(0.0);
                    dst[hi - from..].fill(0.0);
                    let start = ih * width + lo * sw + j - pw;
                    let src = &channel[start..=start + (hi - lo - 1) * sw];
                    let dst = &mut dst[lo - from..hi - from];
                    match sw {
                        1 => dst.copy_from_slice(src),
                        2 => every_other(dst, src),
                        _ => {
                            for (d, s) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `dst[o] = src[2·o]`, written so that it compiles to SIMD shuffles (`src` has
/// `2·dst.len() − 1` values).
fn every_other(dst: &mut [f32], src: &[f32]) {
    let Some((last, bulk)) = dst.split_last_mut() else {
        return;
    };
    for (d, pair) in bulk.iter_mut().zip(src.chunks_exact(2)) {
        *d = pair[0];
    }
    *last = src[2 * bulk.len()];
}

/// `planes` row-major `rows × cols` matrices, each transposed (in 16 × 16 blocks, which stay
/// in cache); `None` when `x` has another length.
fn transpose(x: &[f32], planes: usize, rows: usize, cols: usize) -> Option<Vec<f32>> {
    const BLOCK: usize = 16;
    let size = rows * cols;
    if x.len() != planes * size {
        return None;
    }
    let mut out = vec![0.0; x.len()];
    if size == 0 {
        return Some(out);
    }
    for (src, dst) in x.chunks_exact(size).zip(out.chunks_exact_mut(size)) {
        for r0 in (0..rows).step_by(BLOCK) {
            let r1 = (r0 + BLOCK).min(rows);
            for c0 in (0..cols).step_by(BLOCK) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    let column = src[r0 * cols + c..].iter().step_by(cols);
                    for (d, v) in dst[c * rows + r0..c * rows + r1].iter_mut().zip(column) {
                        *d = *v;
                    }
                }
            }
        }
    }
    Some(out)
}

/// `dst = lhs · rhs` for row-major `lhs` (`m × k`), `rhs` (`k × n`) and `dst` (`m × n`), by
/// gemm's SIMD kernels on this thread.
fn matmul(lhs: &[f32], rhs: &[f32], dst: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(lhs.len() >= m * k && rhs.len() >= k * n && dst.len() >= m * n);
    let stride = |s: usize| isize::try_from(s).expect("a slice's length fits in isize");
    let (k_s, n_s) = (stride(k), stride(n));
    // SAFETY: gemm reads `lhs[i·k + l]`, `rhs[l·n + j]` and writes `dst[i·n + j]` for i < m,
    // l < k, j < n: all inside the slices, whose lengths are asserted above; `dst` is borrowed
    // mutably, so it aliases neither input.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n_s,
            false,
            lhs.as_ptr(),
            1,
            k_s,
            rhs.as_ptr(),
            1,
            n_s,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BLOCKS;

    /// Deterministic values in [−1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The definition, one output value at a time (complex products in f64).
    fn direct(kernel: &ComplexKernel, x: &Planes, out: [usize; 4]) -> (Vec<f64>, Vec<f64>) {
        let [batch, c_in, height, width] = x.dims;
        let [_, c_out, out_h, out_w] = out;
        let spec = kernel.spec;
        let [kh, kw] = spec.kernel;
        let mut re = Vec::new();
        let mut im = Vec::new();
        for b in 0..batch {
            for co in 0..c_out {
                for oh in 0..out_h {
                    for ow in 0..out_w {
                        let mut sum =
                            (f64::from(kernel.bias_re[co]), f64::from(kernel.bias_im[co]));
                        for ci in 0..c_in {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let ih = (oh * spec.stride[0] + i) as isize
                                        - spec.padding[0] as isize;
                                    let iw = (ow * spec.stride[1] + j) as isize
                                        - spec.padding[1] as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih as usize >= height
                                        || iw as usize >= width
                                    {
                                        continue;
                                    }
                                    let at = ((b * c_in + ci) * height + ih as usize) * width
                                        + iw as usize;
                                    let w = ((co * c_in + ci) * kh + i) * kw + j;
                                    let (wr, wi) =
                                        (f64::from(kernel.wr[w]), f64::from(kernel.wi[w]));
                                    let (xr, xi) = (f64::from(x.re[at]), f64::from(x.im[at]));
                                    sum.0 += wr * xr - wi * xi;
                                    sum.1 += wr * xi + wi * xr;
                                }
                            }
                        }
                        re.push(sum.0);
                        im.push(sum.1);
                    }
                }
            }
        }
        (re, im)
    }

    /// Every block's geometry (and a stride-1, unpadded one), on inputs whose output spans
    /// several tiles and whose width is not a multiple of the stride.
    #[test]
    fn matches_the_definition_on_every_geometry() {
        let mut specs = BLOCKS.to_vec();
        specs.push(BlockSpec {
            channels: 3,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [0, 0],
        });
        for (n, spec) in specs.into_iter().enumerate() {
            let spec = BlockSpec {
                channels: spec.channels.min(6),
                ..spec
            };
            let (batch, c_in, height, width) = (2, 3, 71, 37);
            let k = spec.channels * c_in * spec.kernel[0] * spec.kernel[1];
            let seed = 10 * n as u64;
            let kernel = ComplexKernel {
                wr: values(k, seed),
                wi: values(k, seed + 1),
                bias_re: values(spec.channels, seed + 2),
                bias_im: values(spec.channels, seed + 3),
                c_in,
                spec,
                epilogue: None,
            };
            let size = batch * c_in * height * width;
            let x = Planes {
                re: values(size, seed + 4),
                im: values(size, seed + 5),
                dims: [batch, c_in, height, width],
            };
            let got = kernel
                .forward(&x, Layout::FreqMajor)
                .expect("the input is larger than the kernel");
            // Time-major in, time-major out: the same numbers, transposed.
            let time_major = Planes {
                re: transpose(&x.re, batch * c_in, height, width).unwrap(),
                im: transpose(&x.im, batch * c_in, height, width).unwrap(),
                dims: [batch, c_in, width, height],
            };
            let got_t = kernel.forward(&time_major, Layout::TimeMajor).unwrap();
            let [_, c_out, out_h, out_w] = got.dims;
            assert_eq!(got_t.dims, [batch, c_out, out_w, out_h]);
            for (t, f) in [(&got_t.re, &got.re), (&got_t.im, &got.im)] {
                assert_eq!(&transpose(t, batch * c_out, out_w, out_h).unwrap(), f);
            }
            let (re, im) = direct(&kernel, &x, got.dims);
            assert_eq!(got.re.len(), re.len(), "{spec:?}");
            let out = (height + 2 * spec.padding[0] - spec.kernel[0]) / spec.stride[0] + 1;
            assert_eq!(got.dims[2], out, "{spec:?}");
            for (got, want) in [(&got.re, &re), (&got.im, &im)] {
                for (g, w) in got.iter().zip(want) {
                    assert!(
                        (f64::from(*g) - w).abs() < 1e-4,
                        "{spec:?}: {g} against {w}"
                    );
                }
            }

            // With an epilogue: each channel's affine map, then PReLU, on each part.
            let channels = spec.channels;
            let part = |seed| Part {
                scale: values(channels, seed),
                shift: values(channels, seed + 1),
                slope: values(channels, seed + 2),
            };
            let epilogue = Epilogue {
                re: part(seed + 6),
                im: part(seed + 9),
            };
            let with = ComplexKernel {
                epilogue: Some(epilogue.clone()),
                ..kernel
            };
            let mapped = with.forward(&x, Layout::FreqMajor).unwrap();
            let plane = out_h * out_w;
            for (got, want, part) in [
                (&mapped.re, &re, &epilogue.re),
                (&mapped.im, &im, &epilogue.im),
            ] {
                for (at, (g, w)) in got.iter().zip(want).enumerate() {
                    let c = at / plane % c_out;
                    let y = w * f64::from(part.scale[c]) + f64::from(part.shift[c]);
                    let y = if y >= 0.0 {
                        y
                    } else {
                        y * f64::from(part.slope[c])
                    };
                    assert!(
                        (f64::from(*g) - y).abs() < 1e-4,
                        "{spec:?}: {g} against {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_compute() {
        let spec = BLOCKS[0];
        let k = spec.channels * spec.kernel[0] * spec.kernel[1];
        let w = vec![0.0; k];
        let kernel = ComplexKernel {
            wr: w.clone(),
            wi: w,
            bias_re: vec![0.0; spec.channels],
            bias_im: vec![0.0; spec.channels],
            c_in: 1,
            spec,
            epilogue: None,
        };
        // No columns: narrower than the kernel even with its padding.
        let small = Planes {
            re: Vec::new(),
            im: Vec::new(),
            dims: [1, 1, 8, 0],
        };
        assert!(kernel.forward(&small, Layout::FreqMajor).is_none());
        // Two input channels where the weights have one.
        let wrong = Planes {
            re: vec![0.0; 2 * 64],
            im: vec![0.0; 2 * 64],
            dims: [1, 2, 8, 8],
        };
        assert!(kernel.forward(&wrong, Layout::TimeMajor).is_none());
        // A stride of 0 (no layer here has one) is refused, not divided by.
        let still = ComplexKernel {
            spec: BlockSpec {
                stride: [0, 2],
                ..spec
            },
            bias_re: vec![0.0; spec.channels],
            bias_im: vec![0.0; spec.channels],
            ..kernel
        };
        let input = Planes {
            re: vec![0.0; 64],
            im: vec![0.0; 64],
            dims: [1, 1, 8, 8],
        };
        assert!(still.forward(&input, Layout::FreqMajor).is_none());
    }
}
