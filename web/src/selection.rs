//! What the machine menu has selected, as a type: a bundled model's machine ID or an enrolled
//! machine ([`crate::state::Ui::id`]). The menu's `<option>` values carry it as text; this is
//! the one place that text is written and read.

/// The selected machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// A machine ID of the bundled model (one of its classes).
    Id(String),
    /// An enrolled machine, by name.
    Enrolled(String),
}

/// Option values of enrolled machines start with this (a model class never does).
const ENROLLED: &str = "profile:";

impl Selection {
    /// The selection an option value stands for.
    pub fn parse(value: &str) -> Self {
        match value.strip_prefix(ENROLLED) {
            Some(name) => Selection::Enrolled(name.to_string()),
            None => Selection::Id(value.to_string()),
        }
    }

    /// The option value that stands for this selection.
    pub fn value(&self) -> String {
        match self {
            Selection::Id(id) => id.clone(),
            Selection::Enrolled(name) => format!("{ENROLLED}{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back() {
        for s in [
            Selection::Id("02".into()),
            Selection::Enrolled("Hall B/Pump 3".into()),
            Selection::Enrolled(String::new()),
        ] {
            assert_eq!(Selection::parse(&s.value()), s);
        }
        assert_eq!(Selection::parse("00"), Selection::Id("00".into()));
    }
}
