//! The combined score: several detectors of how far a clip lies from a machine's normal
//! sound, each standardised by its own spread on normal clips it was not fitted to, averaged.
//!
//! A detector ([`Member`]) describes every 64-frame window of a clip by a vector: a layer of
//! the network ([`crate::embedding::Layer`]) or a hand-made descriptor
//! ([`mimimi_dsp::Descriptor`]: log-mel statistics, envelope modulation). It keeps a Gaussian
//! (OAS-shrunk covariance) of those vectors on the reference's normal clips, and its distance
//! for a clip is the squared Mahalanobis distance of the clip's mean vector, divided by the
//! dimension (averaging over the clip cancels much of the background). A distance means
//! little on its own, so each member also keeps the mean and spread of its distances on
//! normal clips the Gaussian never saw ([`Spread`]), and contributes `z = (distance − mean) /
//! spread`. The clip's score is the mean of its members' z: in units of the normal spread,
//! about 0 for a typical normal clip, whatever each member's scale.
//!
//! Why a combination: no single detector sees every kind of fault. Log-mel levels see energy
//! added in a band, envelope modulation sees a rhythm change with the same spectrum, the
//! network's features see what tells units apart. Which members the default uses was chosen
//! on development families only (docs/results).
//!
//! Each window's part, `Σ_m ((x_w − μ_m)ᵀ Σ_m⁻¹ (x̄ − μ_m) / d_m − mean_m) / spread_m / M`, is
//! its share of every member's distance ([`crate::clip_gaussian`] does the same for one
//! member), so the window parts average to the clip's score exactly and the page's timeline
//! keeps its meaning.

use crate::embedding::{Layer, UnknownLayer};
use crate::gaussian::{Gaussian, GaussianError, packed};
use crate::threshold::ThresholdRule;
use mimimi_dsp::Descriptor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One detector of a combined score: what it describes each window by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Member {
    /// A layer of the network ([`crate::embedding`]).
    Network(Layer),
    /// A hand-made descriptor of the spectrogram.
    Descriptor(Descriptor),
}

impl Member {
    /// Name on the command line and in reports: `network:block5`, `logmel`.
    pub fn name(self) -> String {
        match self {
            Member::Network(layer) => format!("network:{}", layer.name()),
            Member::Descriptor(d) => d.name().to_string(),
        }
    }

    /// Parses a name as [`Member::name`] writes it.
    pub fn parse(name: &str) -> Result<Self, UnknownMember> {
        if let Some(layer) = name.strip_prefix("network:") {
            return Ok(Member::Network(Layer::parse(layer)?));
        }
        Descriptor::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .map(Member::Descriptor)
            .ok_or_else(|| UnknownMember::Name(name.to_string()))
    }

    /// Whether each window holds several vectors scored on their own (the frame stacks of
    /// [`Descriptor::Frames`]), rather than one vector averaged over the clip.
    pub fn per_part(self) -> bool {
        matches!(self, Member::Descriptor(d) if d.per_part())
    }

    /// Parses a `+`-separated list, in canonical order, without repeats.
    pub fn parse_list(names: &str) -> Result<Vec<Self>, UnknownMember> {
        let mut members = names
            .split('+')
            .map(Member::parse)
            .collect::<Result<Vec<_>, _>>()?;
        members.sort();
        members.dedup();
        Ok(members)
    }
}

/// A member name that [`Member::parse`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownMember {
    /// `network:` and a layer it does not know.
    #[error(transparent)]
    Layer(#[from] UnknownLayer),
    /// Neither a descriptor nor `network:<layer>`.
    #[error(
        "unknown member {0:?} (known: logmel, modulation, frames, envelope, network:block5, network:fused)"
    )]
    Name(String),
}

/// The members of the default combined score, of trained IDs and enrolled machines alike:
/// chosen on development families only (docs/results/quality.md).
pub const DEFAULT_MEMBERS: &str = "logmel+modulation+envelope";

/// [`DEFAULT_MEMBERS`], parsed.
pub fn default_members() -> Vec<Member> {
    Member::parse_list(DEFAULT_MEMBERS).expect("the default members parse")
}

/// The window vectors of one clip, per member.
pub type ClipRows = BTreeMap<Member, Vec<Vec<f32>>>;

/// Mean and spread of a quantity over normal clips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (sample), floored ([`Spread::of`]).
    pub std: f64,
}

impl Spread {
    /// Mean and standard deviation of `values`, the deviation floored at a tenth of the
    /// absolute mean (and at 1e-6): a few reference clips that happen to agree must not make
    /// every later clip look extreme. None with fewer than two values or any that is not finite.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some(Self {
            mean,
            std: var.sqrt().max(0.1 * mean.abs()).max(1e-6),
        })
    }

    /// `(value − mean) / std`.
    pub fn z(&self, value: f64) -> f64 {
        (value - self.mean) / self.std
    }

    fn validate(&self, what: Quantity) -> Result<(), CombinedError> {
        if self.mean.is_finite() && self.std.is_finite() && self.std > 0.0 {
            Ok(())
        } else {
            Err(CombinedError::DamagedSpread {
                what,
                mean: self.mean,
                std: self.std,
            })
        }
    }
}

/// What a spread describes, in an error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// One member's distance.
    Member(Member),
    /// The combined score.
    Combined,
    /// The spectral envelope's deviation.
    Envelope,
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantity::Member(m) => f.write_str(&m.name()),
            Quantity::Combined => f.write_str("the combined score"),
            Quantity::Envelope => f.write_str("the spectral envelope"),
        }
    }
}

/// Why a combined score could not be fitted or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CombinedError {
    /// Too few held-out normal clips to standardise the members.
    #[error(
        "standardising needs at least 3 normal clips the detectors were not fitted to, got {0}"
    )]
    TooFewReference(usize),
    /// Too few enrollment takes.
    #[error("enrollment needs at least 3 takes, got {0}")]
    TooFewTakes(usize),
    /// A clip lacks a member's vectors.
    #[error("the clip has no {} values", .0.name())]
    Missing(Member),
    /// A member's vectors have the wrong length for the detector.
    #[error("{} gives {got} values per window, the detector expects {expected}: it belongs to another model", .member.name())]
    Width {
        /// The member.
        member: Member,
        /// Values per window in the clip.
        got: usize,
        /// Values per window the detector was fitted to.
        expected: usize,
    },
    /// The members describe different numbers of windows.
    #[error("the members describe different numbers of windows")]
    WindowCounts,
    /// A combined score without members (a damaged file).
    #[error("a combined score without members")]
    NoMembers,
    /// A member's Gaussian could not be fitted (identical clips, silence) or is damaged.
    #[error("{}: {source}", .member.name())]
    Gaussian {
        /// The member.
        member: Member,
        /// What is wrong with its Gaussian.
        source: GaussianError,
    },
    /// A stored descriptor Gaussian of the wrong size (a damaged file).
    #[error("{}: {expected} values, it has {got}", .member.name())]
    DescriptorWidth {
        /// The member.
        member: Member,
        /// The descriptor's size.
        expected: usize,
        /// The stored Gaussian's size.
        got: usize,
    },
    /// The normal clips give no usable spread of a quantity.
    #[error("{0}: the normal clips give no usable spread")]
    NoSpread(Quantity),
    /// A stored spread that cannot be right (a damaged file).
    #[error("{what}: mean {mean} and spread {std} are not usable")]
    DamagedSpread {
        /// What it describes.
        what: Quantity,
        /// Its stored mean.
        mean: f64,
        /// Its stored standard deviation.
        std: f64,
    },
}

/// One member fitted to a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// What it measures.
    pub member: Member,
    /// Its Gaussian of the reference's normal vectors.
    #[serde(with = "packed")]
    pub gaussian: Gaussian,
    /// Its distance on normal clips the Gaussian was not fitted to.
    pub normal: Spread,
}

/// A clip's distance from `g` and each window's part of it (their mean is the distance).
///
/// One vector per window: the squared Mahalanobis distance of the clip's mean vector, divided
/// by the dimension; a window's part is its share `(x_w − μ)ᵀ Σ⁻¹ (x̄ − μ) / d`. Several vectors
/// per window (`per_part`): a window's part is the mean distance of its vectors, divided by
/// the dimension; the clip's distance is the mean of its windows' parts.
fn distance(g: &Gaussian, rows: &[Vec<f32>], per_part: bool) -> (f64, Vec<f64>) {
    if per_part {
        let d = g.dim();
        let parts: Vec<f64> = rows
            .iter()
            .map(|w| {
                let n = (w.len() / d).max(1) as f64;
                w.chunks_exact(d).map(|v| g.mahalanobis2(v)).sum::<f64>() / (n * d as f64)
            })
            .collect();
        let clip = parts.iter().sum::<f64>() / parts.len().max(1) as f64;
        return (clip, parts);
    }
    clip_mean_distance(g, rows)
}

/// The squared distance of the clip's mean vector from `g`, divided by the dimension, and each
/// window's share of it (`(xᵢ−μ)ᵀΣ⁻¹(x̄−μ)/d`, whose mean is the clip's distance). Rows must
/// have `g`'s dimension.
pub(crate) fn clip_mean_distance(g: &Gaussian, rows: &[Vec<f32>]) -> (f64, Vec<f64>) {
    let d = g.dim() as f64;
    let mean = clip_mean(rows);
    let deviation: Vec<f64> = mean.iter().zip(&g.mean).map(|(x, m)| x - m).collect();
    let direction = g.precision_times(&deviation);
    let clip = deviation
        .iter()
        .zip(&direction)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        / d;
    let shares = rows
        .iter()
        .map(|w| {
            w.iter()
                .zip(&g.mean)
                .zip(&direction)
                .map(|((&x, m), p)| (f64::from(x) - m) * p)
                .sum::<f64>()
                / d
        })
        .collect();
    (clip, shares)
}

/// How a member's Gaussian is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitOn {
    /// The mean vector of each clip (many clips: a trained machine ID's training split).
    ClipMeans,
    /// Every window of every clip (a few clips: an enrolled machine's takes).
    Windows,
}

/// The combined detector of one reference (a trained machine ID, or an enrolled machine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Combined {
    /// The fitted members.
    pub members: Vec<Fitted>,
    /// The combined score of normal clips it was not fitted to: its spread is the unit of a
    /// verdict's margin.
    pub normal: Spread,
    /// How far (dB) the spectral envelope of normal clips it was not fitted to lay from the
    /// reference's ([`Combined::envelope_deviation`]); None without a log-mel member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Spread>,
}

/// The mean of a clip's window vectors.
pub fn clip_mean(rows: &[Vec<f32>]) -> Vec<f64> {
    let d = rows.first().map_or(0, Vec::len);
    let mut mean = vec![0.0f64; d];
    for w in rows {
        for (m, &x) in mean.iter_mut().zip(w) {
            *m += f64::from(x);
        }
    }
    let n = rows.len().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// The rows of `member` of a clip, checked against `dim` (a multiple of it, for a member with
/// several vectors per window).
fn rows_of(clip: &ClipRows, member: Member, dim: usize) -> Result<&[Vec<f32>], CombinedError> {
    let rows = clip
        .get(&member)
        .filter(|r| !r.is_empty())
        .ok_or(CombinedError::Missing(member))?;
    let fits = |r: &Vec<f32>| {
        if member.per_part() {
            dim > 0 && !r.is_empty() && r.len().is_multiple_of(dim)
        } else {
            r.len() == dim
        }
    };
    if let Some(r) = rows.iter().find(|r| !fits(r)) {
        return Err(CombinedError::Width {
            member,
            got: r.len(),
            expected: dim,
        });
    }
    Ok(rows)
}

/// Fits one member's Gaussian to `clips`.
fn fit_gaussian(
    member: Member,
    clips: &[&ClipRows],
    fit_on: FitOn,
) -> Result<Gaussian, CombinedError> {
    let dim = match member {
        Member::Descriptor(d) => d.dim(),
        Member::Network(_) => clips
            .first()
            .and_then(|c| c.get(&member))
            .and_then(|r| r.first())
            .map_or(0, Vec::len),
    };
    let mut vectors: Vec<Vec<f32>> = Vec::new();
    for clip in clips {
        let rows = rows_of(clip, member, dim)?;
        match fit_on {
            // A member with several vectors per window is fitted to all of them whatever the
            // number of clips: it scores each of them.
            _ if member.per_part() => vectors.extend(
                rows.iter()
                    .flat_map(|r| r.chunks_exact(dim).map(<[f32]>::to_vec)),
            ),
            FitOn::ClipMeans => {
                vectors.push(clip_mean(rows).into_iter().map(|v| v as f32).collect())
            }
            FitOn::Windows => vectors.extend(rows.iter().cloned()),
        }
    }
    Gaussian::fit(&vectors)
        .map(Gaussian::rounded)
        .map_err(|source| CombinedError::Gaussian { member, source })
}

/// The spectral envelope of a clip: its mean log-mel level per band with the overall level
/// removed (dB).
fn envelope(clip: &ClipRows) -> Option<Vec<f64>> {
    let rows = clip.get(&Member::Descriptor(Descriptor::LogMel))?;
    let mean = clip_mean(rows);
    let bands = mean.len() / 2;
    let levels = &mean[..bands];
    let overall = levels.iter().sum::<f64>() / bands.max(1) as f64;
    Some(levels.iter().map(|l| l - overall).collect())
}

/// Root-mean-square difference of two envelopes (dB).
fn envelope_distance(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len().max(1) as f64).sqrt()
}

impl Combined {
    /// Fits `members` to the normal `train` clips, and standardises each with its distances
    /// on the normal `reference` clips (never fitted on). The combined score's own spread
    /// comes from the reference clips with each one left out of the member spreads that
    /// score it, so that it is what a new normal clip would get.
    pub fn fit(
        members: &[Member],
        train: &[ClipRows],
        reference: &[ClipRows],
        fit_on: FitOn,
    ) -> Result<Self, CombinedError> {
        if reference.len() < 3 {
            return Err(CombinedError::TooFewReference(reference.len()));
        }
        let train: Vec<&ClipRows> = train.iter().collect();
        let gaussians = members
            .iter()
            .map(|&m| fit_gaussian(m, &train, fit_on))
            .collect::<Result<Vec<_>, _>>()?;
        // distances[m][clip]
        let distances: Vec<Vec<f64>> = members
            .iter()
            .zip(&gaussians)
            .map(|(&member, g)| {
                reference
                    .iter()
                    .map(|clip| {
                        Ok(distance(g, rows_of(clip, member, g.dim())?, member.per_part()).0)
                    })
                    .collect::<Result<Vec<_>, CombinedError>>()
            })
            .collect::<Result<_, _>>()?;
        let reference_envelope = envelope_of_reference(&train);
        let envelopes: Vec<f64> = match &reference_envelope {
            Some(r) => reference
                .iter()
                .filter_map(envelope)
                .map(|e| envelope_distance(&e, r))
                .collect(),
            None => Vec::new(),
        };
        Self::assemble(members, gaussians, &distances, &envelopes)
    }

    /// Fits `members` to an enrolled machine's takes: each Gaussian on every window of every
    /// take; each member's spread from its distances of each take left out of the fit (leave
    /// one out), the combined score's spread from those with each take also left out of the
    /// spreads that score it.
    pub fn enroll(members: &[Member], takes: &[ClipRows]) -> Result<Self, CombinedError> {
        if takes.len() < 3 {
            return Err(CombinedError::TooFewTakes(takes.len()));
        }
        let all: Vec<&ClipRows> = takes.iter().collect();
        let gaussians = members
            .iter()
            .map(|&m| fit_gaussian(m, &all, FitOn::Windows))
            .collect::<Result<Vec<_>, _>>()?;
        let mut distances = vec![Vec::with_capacity(takes.len()); members.len()];
        let mut envelopes = Vec::new();
        for held in 0..takes.len() {
            let others: Vec<&ClipRows> = takes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != held)
                .map(|(_, t)| t)
                .collect();
            for (m, &member) in members.iter().enumerate() {
                let g = fit_gaussian(member, &others, FitOn::Windows)?;
                distances[m].push(
                    distance(
                        &g,
                        rows_of(&takes[held], member, g.dim())?,
                        member.per_part(),
                    )
                    .0,
                );
            }
            if let (Some(r), Some(e)) = (envelope_of_reference(&others), envelope(&takes[held])) {
                envelopes.push(envelope_distance(&e, &r));
            }
        }
        Self::assemble(members, gaussians, &distances, &envelopes)
    }

    /// The detector from its Gaussians and the held-out distances of each member
    /// (`distances[member][clip]`) and envelope deviations.
    fn assemble(
        members: &[Member],
        gaussians: Vec<Gaussian>,
        distances: &[Vec<f64>],
        envelopes: &[f64],
    ) -> Result<Self, CombinedError> {
        let spread = |values: &[f64], what: Quantity| {
            Spread::of(values).ok_or(CombinedError::NoSpread(what))
        };
        let fitted = members
            .iter()
            .zip(gaussians)
            .zip(distances)
            .map(|((&member, gaussian), d)| {
                Ok(Fitted {
                    member,
                    gaussian,
                    normal: spread(d, Quantity::Member(member))?,
                })
            })
            .collect::<Result<Vec<_>, CombinedError>>()?;
        // Each clip's combined score with the member spreads taken from the other clips.
        let n = distances.first().map_or(0, Vec::len);
        let mut combined = Vec::with_capacity(n);
        for held in 0..n {
            let mut sum = 0.0;
            for (member, d) in members.iter().zip(distances) {
                let others: Vec<f64> = d
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != held)
                    .map(|(_, v)| *v)
                    .collect();
                sum += spread(&others, Quantity::Member(*member))?.z(d[held]);
            }
            combined.push(sum / distances.len().max(1) as f64);
        }
        let envelope = if envelopes.len() >= 2 {
            Spread::of(envelopes)
        } else {
            None
        };
        Ok(Self {
            members: fitted,
            normal: spread(&combined, Quantity::Combined)?,
            envelope,
        })
    }

    /// The members this detector needs of a clip.
    pub fn needs(&self) -> Vec<Member> {
        self.members.iter().map(|f| f.member).collect()
    }

    /// Each window's part of the clip's score; their mean is the score.
    pub fn window_scores(&self, clip: &ClipRows) -> Result<Vec<f64>, CombinedError> {
        let mut parts: Option<Vec<f64>> = None;
        let m = self.members.len().max(1) as f64;
        for fitted in &self.members {
            let rows = rows_of(clip, fitted.member, fitted.gaussian.dim())?;
            let (_, shares) = distance(&fitted.gaussian, rows, fitted.member.per_part());
            let parts = parts.get_or_insert_with(|| vec![0.0; shares.len()]);
            if parts.len() != shares.len() {
                return Err(CombinedError::WindowCounts);
            }
            for (p, s) in parts.iter_mut().zip(shares) {
                *p += fitted.normal.z(s) / m;
            }
        }
        parts.ok_or(CombinedError::NoMembers)
    }

    /// The threshold of this detector's score by `rule`: the rule's percentile of a normal
    /// distribution with the held-out normal clips' mean and spread.
    pub fn threshold(&self, rule: &ThresholdRule) -> f64 {
        rule.normal_quantile(self.normal.mean, self.normal.std)
    }

    /// How far (dB, root mean square over the bands) the clip's spectral envelope lies from
    /// the reference's; None without a log-mel member.
    pub fn envelope_deviation(&self, clip: &ClipRows) -> Option<f64> {
        let fitted = self
            .members
            .iter()
            .find(|f| f.member == Member::Descriptor(Descriptor::LogMel))?;
        let bands = fitted.gaussian.dim() / 2;
        let levels = &fitted.gaussian.mean[..bands];
        let overall = levels.iter().sum::<f64>() / bands.max(1) as f64;
        let reference: Vec<f64> = levels.iter().map(|l| l - overall).collect();
        Some(envelope_distance(&envelope(clip)?, &reference))
    }

    /// An error unless every stored value is usable (a file may be damaged).
    pub fn validate(&self) -> Result<(), CombinedError> {
        if self.members.is_empty() {
            return Err(CombinedError::NoMembers);
        }
        for f in &self.members {
            f.gaussian
                .validate()
                .map_err(|source| CombinedError::Gaussian {
                    member: f.member,
                    source,
                })?;
            if let Member::Descriptor(d) = f.member
                && f.gaussian.dim() != d.dim()
            {
                return Err(CombinedError::DescriptorWidth {
                    member: f.member,
                    expected: d.dim(),
                    got: f.gaussian.dim(),
                });
            }
            f.normal.validate(Quantity::Member(f.member))?;
        }
        self.normal.validate(Quantity::Combined)?;
        if let Some(e) = &self.envelope {
            e.validate(Quantity::Envelope)?;
        }
        Ok(())
    }
}

/// The mean envelope of a reference's clips.
fn envelope_of_reference(clips: &[&ClipRows]) -> Option<Vec<f64>> {
    let envelopes: Vec<Vec<f64>> = clips.iter().filter_map(|c| envelope(c)).collect();
    let first = envelopes.first()?;
    let n = envelopes.len() as f64;
    Some(
        (0..first.len())
            .map(|b| envelopes.iter().map(|e| e[b]).sum::<f64>() / n)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clip of `windows` windows for each member: values around `centre` (a vector of the
    /// member's width) with deterministic jitter.
    fn clip(members: &[Member], shift: f32, seed: u64, windows: usize) -> ClipRows {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        members
            .iter()
            .map(|&m| {
                let dim = match m {
                    Member::Descriptor(d) if d.per_part() => 3 * d.dim(),
                    Member::Descriptor(d) => d.dim(),
                    Member::Network(_) => 6,
                };
                let rows = (0..windows)
                    .map(|_| (0..dim).map(|i| (i % 5) as f32 + shift + next()).collect())
                    .collect();
                (m, rows)
            })
            .collect()
    }

    fn members() -> Vec<Member> {
        vec![
            Member::Network(Layer::Block5),
            Member::Descriptor(Descriptor::Modulation),
            Member::Descriptor(Descriptor::Frames),
        ]
    }

    #[test]
    fn names_round_trip() {
        let every = [Layer::Block5, Layer::Fused]
            .map(Member::Network)
            .into_iter()
            .chain(Descriptor::ALL.map(Member::Descriptor));
        for m in every {
            assert_eq!(Member::parse(&m.name()).unwrap(), m);
        }
        assert_eq!(
            Member::parse_list("modulation+logmel+logmel").unwrap(),
            [
                Member::Descriptor(Descriptor::LogMel),
                Member::Descriptor(Descriptor::Modulation)
            ]
        );
        assert!(Member::parse("network:logits").is_err());
        assert!(Member::parse("mfcc").is_err());
    }

    #[test]
    fn normal_clips_score_near_zero_and_shifted_clips_high_with_either_fit() {
        let m = members();
        let train: Vec<ClipRows> = (0..40).map(|s| clip(&m, 0.0, s, 9)).collect();
        let reference: Vec<ClipRows> = (100..110).map(|s| clip(&m, 0.0, s, 9)).collect();
        for fit_on in [FitOn::ClipMeans, FitOn::Windows] {
            let c = Combined::fit(&m, &train, &reference, fit_on).unwrap();
            c.validate().unwrap();
            let score = |clip: &ClipRows| {
                let w = c.window_scores(clip).unwrap();
                w.iter().sum::<f64>() / w.len() as f64
            };
            let normal: Vec<f64> = (200..220).map(|s| score(&clip(&m, 0.0, s, 9))).collect();
            let mean = normal.iter().sum::<f64>() / normal.len() as f64;
            assert!(mean.abs() < 1.5, "{fit_on:?}: normal clips score {mean}");
            let shifted = score(&clip(&m, 0.3, 300, 9));
            let threshold = c.threshold(&ThresholdRule::default());
            assert!(
                shifted > threshold + 3.0 * c.normal.std,
                "{fit_on:?}: {shifted} vs {threshold}"
            );
            let passing = normal.iter().filter(|&&s| s <= threshold).count();
            assert!(
                passing >= 14,
                "{fit_on:?}: {passing} of 20 normal clips below {threshold}"
            );
        }
    }

    #[test]
    fn window_parts_average_to_the_members_mean_z() {
        let m = members();
        let train: Vec<ClipRows> = (0..30).map(|s| clip(&m, 0.0, s, 5)).collect();
        let reference: Vec<ClipRows> = (50..56).map(|s| clip(&m, 0.0, s, 5)).collect();
        let c = Combined::fit(&m, &train, &reference, FitOn::ClipMeans).unwrap();
        let probe = clip(&m, 0.1, 77, 5);
        let parts = c.window_scores(&probe).unwrap();
        let direct: f64 = c
            .members
            .iter()
            .map(|f| {
                f.normal
                    .z(distance(&f.gaussian, &probe[&f.member], f.member.per_part()).0)
            })
            .sum::<f64>()
            / c.members.len() as f64;
        let mean = parts.iter().sum::<f64>() / parts.len() as f64;
        assert!((mean - direct).abs() < 1e-9, "{mean} vs {direct}");
    }

    #[test]
    fn enrollment_from_a_few_takes_separates_a_shift() {
        let m = members();
        let takes: Vec<ClipRows> = (0..5).map(|s| clip(&m, 0.0, s, 9)).collect();
        let c = Combined::enroll(&m, &takes).unwrap();
        let threshold = c.threshold(&ThresholdRule::default());
        let score = |clip: &ClipRows| c.window_scores(clip).unwrap().iter().sum::<f64>() / 9.0;
        assert!(score(&clip(&m, 0.0, 40, 9)) < threshold);
        assert!(score(&clip(&m, 0.5, 41, 9)) > threshold);
        assert!(Combined::enroll(&m, &takes[..2]).is_err());
    }

    #[test]
    fn mismatched_or_damaged_inputs_are_errors_not_panics() {
        let m = members();
        let train: Vec<ClipRows> = (0..20).map(|s| clip(&m, 0.0, s, 5)).collect();
        let reference: Vec<ClipRows> = (50..54).map(|s| clip(&m, 0.0, s, 5)).collect();
        let c = Combined::fit(&m, &train, &reference, FitOn::ClipMeans).unwrap();
        let mut short = clip(&m, 0.0, 9, 5);
        short.get_mut(&m[0]).unwrap()[0].pop();
        assert!(matches!(
            c.window_scores(&short),
            Err(CombinedError::Width { member, .. }) if member == m[0]
        ));
        let mut missing = clip(&m, 0.0, 9, 5);
        missing.remove(&m[1]);
        assert!(matches!(
            c.window_scores(&missing),
            Err(CombinedError::Missing(member)) if member == m[1]
        ));
        // Frame stacks that are not whole stacks.
        let mut torn = clip(&m, 0.0, 9, 5);
        torn.get_mut(&m[2]).unwrap()[1].truncate(170);
        assert!(matches!(
            c.window_scores(&torn),
            Err(CombinedError::Width { member, .. }) if member == m[2]
        ));
        let mut damaged = c.clone();
        damaged.members[0].normal.std = 0.0;
        assert!(matches!(
            damaged.validate(),
            Err(CombinedError::DamagedSpread { what: Quantity::Member(member), .. }) if member == m[0]
        ));
        let mut damaged = c.clone();
        damaged.normal.mean = f64::NAN;
        assert!(matches!(
            damaged.validate(),
            Err(CombinedError::DamagedSpread {
                what: Quantity::Combined,
                ..
            })
        ));
        let json = serde_json::to_string(&c).unwrap();
        let back: Combined = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert!(Combined::fit(&m, &train, &reference[..2], FitOn::ClipMeans).is_err());
    }

    #[test]
    fn a_per_part_member_scores_each_stack_and_sees_one_odd_stack() {
        // One odd stack among 30 in one window raises that window's part, and the clip's.
        let m = vec![Member::Descriptor(Descriptor::Frames)];
        let train: Vec<ClipRows> = (0..30).map(|s| clip(&m, 0.0, s, 5)).collect();
        let reference: Vec<ClipRows> = (50..56).map(|s| clip(&m, 0.0, s, 5)).collect();
        let c = Combined::fit(&m, &train, &reference, FitOn::ClipMeans).unwrap();
        assert_eq!(
            c.members[0].gaussian.samples,
            30 * 5 * 3,
            "every stack of every window"
        );
        let normal = clip(&m, 0.0, 77, 5);
        let mut odd = normal.clone();
        odd.get_mut(&m[0]).unwrap()[2][160..320]
            .iter_mut()
            .for_each(|v| *v += 3.0);
        let (n, o) = (
            c.window_scores(&normal).unwrap(),
            c.window_scores(&odd).unwrap(),
        );
        assert!(o[2] > n[2] + 1.0, "{} vs {}", o[2], n[2]);
        assert_eq!(
            (o[0], o[4]),
            (n[0], n[4]),
            "the other windows are untouched"
        );
    }

    #[test]
    fn spreads_are_floored() {
        let s = Spread::of(&[10.0, 10.0, 10.0]).unwrap();
        assert_eq!(s.std, 1.0);
        assert!(Spread::of(&[1.0]).is_none());
        assert!(Spread::of(&[1.0, f64::NAN]).is_none());
    }
}
