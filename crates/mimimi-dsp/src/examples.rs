//! Cutting a clip's spectrogram into the examples the network scores.
//!
//! The network is trained on fixed-width examples (64 frames, about 2 s). A clip is scored on
//! every window at a fixed stride, deterministically (never a random crop), or in one pass on
//! the whole clip, which the fully convolutional network with global pooling also accepts.

use serde::{Deserialize, Serialize};

/// How a clip is cut into examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExampleConfig {
    /// Frames per example (the training width).
    pub frames: usize,
    /// Frames between the starts of consecutive windows.
    pub stride: usize,
    /// Score the whole clip in one pass instead of window by window.
    pub whole_clip: bool,
}

impl Default for ExampleConfig {
    fn default() -> Self {
        Self {
            frames: 64,
            stride: 32,
            whole_clip: false,
        }
    }
}

/// A span of frames `[start, start + width)` of a clip's spectrogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First frame.
    pub start: usize,
    /// Number of frames.
    pub width: usize,
}

impl ExampleConfig {
    /// The windows of a clip of `total` frames: starts at 0, stride, 2·stride, … while the
    /// window fits, plus one window flush with the end when the last regular one stops short,
    /// so every frame is covered. Empty when the clip is shorter than one example.
    pub fn windows(&self, total: usize) -> Vec<Window> {
        if total < self.frames || self.frames == 0 {
            return Vec::new();
        }
        if self.whole_clip {
            return vec![Window {
                start: 0,
                width: total,
            }];
        }
        let stride = self.stride.max(1);
        let mut out: Vec<Window> = (0..=total - self.frames)
            .step_by(stride)
            .map(|start| Window {
                start,
                width: self.frames,
            })
            .collect();
        let last_end = out.last().map_or(0, |w| w.start + w.width);
        if last_end < total {
            out.push(Window {
                start: total - self.frames,
                width: self.frames,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_second_clip_windows() {
        let w = ExampleConfig::default().windows(313);
        // 0, 32, ..., 224 (8 windows) and one flush with the end at 249.
        assert_eq!(w.len(), 9);
        assert_eq!(
            w[7],
            Window {
                start: 224,
                width: 64
            }
        );
        assert_eq!(
            w[8],
            Window {
                start: 249,
                width: 64
            }
        );
        assert_eq!(ExampleConfig::default().windows(63), vec![]);
        assert_eq!(
            ExampleConfig::default().windows(64),
            vec![Window {
                start: 0,
                width: 64
            }]
        );
        let whole = ExampleConfig {
            whole_clip: true,
            ..Default::default()
        };
        assert_eq!(
            whole.windows(313),
            vec![Window {
                start: 0,
                width: 313
            }]
        );
    }
}
