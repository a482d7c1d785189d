//! Small views used by several sections: the two-press button of destructive actions, the
//! controls of a recording in progress, and where a score sits on the page's scale.

use crate::record::stop;
use leptos::prelude::*;

/// How long an armed destructive button waits for its second press.
const CONFIRM_MS: u64 = 5_000;

/// A button for a destructive action: the first press arms it (its label becomes `armed`,
/// `data-armed="true"`), a second press within five seconds runs `action`; left alone, it
/// disarms. Nothing is lost to one slip of a finger.
pub fn confirm_button(
    id: Option<&'static str>,
    class: &'static str,
    label: &'static str,
    armed: &'static str,
    action: impl Fn() + 'static,
) -> impl IntoView {
    // The press that armed it: a time-out only disarms its own arming.
    let arming = RwSignal::new(None::<u32>);
    let presses = StoredValue::new(0u32);
    let on_click = move |_| {
        if arming.get_untracked().is_some() {
            arming.set(None);
            action();
            return;
        }
        let n = presses.get_value().wrapping_add(1);
        presses.set_value(n);
        arming.set(Some(n));
        set_timeout(
            move || {
                // The button may be gone by then (its list was redrawn).
                if arming.try_get_untracked() == Some(Some(n)) {
                    arming.try_set(None);
                }
            },
            std::time::Duration::from_millis(CONFIRM_MS),
        );
    };
    view! {
        <button id=id class=class data-armed=move || arming.get().is_some().to_string() on:click=on_click>
            {move || if arming.get().is_some() { armed } else { label }}
        </button>
    }
}

/// Stop button with the time left and the level meter of a recording in progress (elapsed
/// and target seconds, peak level); `stop_id` and `level_id` name the elements.
pub fn recording_controls(
    (elapsed, target, level): (f64, f64, f32),
    stop_id: &'static str,
    level_id: &'static str,
) -> impl IntoView {
    view! {
        <button id=stop_id class="stop" on:click=move |_| stop()>{format!("Stop ({:.0} s left)", (target - elapsed).max(0.0).ceil())}</button>
        <meter id=level_id aria-label="Microphone level" min="0" max="1" low="0.05" high="0.9"
            optimum="0.5" value={level as f64}></meter>
    }
}

/// Normal spreads either side of the threshold that the page's scale shows.
const SCALE_SPREADS: f64 = 6.0;

/// Position 0..1 of `score` on the page's scale, the threshold in the middle: in normal
/// spreads (±6) where the rule knows its spread (a combined score, which can be negative),
/// else logarithmically in score ÷ threshold (±2 decades).
pub fn scale_position(score: f64, threshold: f64, spread: Option<f64>) -> f64 {
    match spread {
        Some(s) if s > 0.0 => ((score - threshold) / s / SCALE_SPREADS / 2.0 + 0.5).clamp(0.0, 1.0),
        _ => {
            let ratio = (score.max(1e-12) / threshold.max(1e-12)).log10();
            ((ratio + 2.0) / 4.0).clamp(0.0, 1.0)
        }
    }
}

/// How far a score lies from its threshold, in words.
pub fn distance_text(score: f64, threshold: f64, spread: Option<f64>) -> String {
    match spread {
        Some(s) if s > 0.0 => {
            let m = (score - threshold) / s;
            let side = if m > 0.0 { "above" } else { "below" };
            format!("{:.1} normal spreads {side} the threshold", m.abs())
        }
        _ => format!("{:.2}× the threshold", score / threshold),
    }
}
