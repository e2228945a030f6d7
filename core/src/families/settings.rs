//! A family's settings as one table: name, help (with the paper's or code's default),
//! range, and what a setting belongs to. The Train form and the command-line flags are
//! generated from it; each family reads and writes its config through it.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a setting belongs to, which says when it may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Fixes the weights' shapes: a run from a checkpoint's weights keeps the checkpoint's.
    Network,
    /// How the weights train; set when a run starts.
    Objective,
    /// May change while a run goes on (`TrainCommand::SetHyperparameter`, `train --resume`),
    /// and is logged with every step where `logged`.
    Live { logged: bool },
}

/// The values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// On or off. Its command-line flag takes no value and turns it from its default to
    /// the other state (`--gan` on, `--no-rec` off).
    Switch,
    /// A whole number in `min..=max`.
    Count { min: u64, max: u64 },
    /// A real number in `min..=max`; `speed` is the form's drag step.
    Number { min: f64, max: f64, speed: f64 },
    /// One of these names.
    Choice(&'static [&'static str]),
    /// One of these image sizes.
    Size(&'static [u64]),
    /// A set of class numbers (0 to 63), held as a bit mask in [`Value::Count`]; written
    /// "7,8,9", or "none".
    Classes,
}

/// One row of a family's settings table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    /// The name in code, logs and `TrainCommand::SetHyperparameter` ("beta_occ").
    pub name: &'static str,
    /// The command-line flag without its dashes ("beta-occ", "no-rec").
    pub flag: &'static str,
    /// The Train form's label ("β_occ").
    pub label: &'static str,
    /// What it does, with the paper's or the public code's default.
    pub help: &'static str,
    pub kind: Kind,
    pub role: Role,
    /// May be left unset: the family then derives it (PatchVAE's prior 1/N, mixing scenes'
    /// τ from a quantile of the neighbour distances).
    pub optional: bool,
    /// The setting this one depends on: greyed out in the form, and not applied, unless
    /// that one is on (a switch) or above 0 (a count or number).
    pub needs: Option<&'static str>,
    /// Shown in the Train form. The data decides the channels there; the command line
    /// takes every setting.
    pub in_form: bool,
}

impl Setting {
    /// A row with the common defaults: the flag is the name in kebab case (given as
    /// `flag`), required, independent, in the form.
    pub const fn new(name: &'static str, flag: &'static str, label: &'static str, kind: Kind, role: Role, help: &'static str) -> Self {
        Self { name, flag, label, help, kind, role, optional: false, needs: None, in_form: true }
    }

    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub const fn needs(mut self, other: &'static str) -> Self {
        self.needs = Some(other);
        self
    }

    pub const fn not_in_form(mut self) -> Self {
        self.in_form = false;
        self
    }

    pub fn is_live(&self) -> bool {
        matches!(self.role, Role::Live { .. })
    }

    /// Reads a command-line value (switches take none: see [`Kind::Switch`]).
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        let flag = self.flag;
        match self.kind {
            Kind::Switch => Err(format!("--{flag} takes no value")),
            Kind::Count { min, max } => {
                let n: u64 = text.parse().map_err(|_| format!("--{flag} {text}: expected a whole number"))?;
                if !(min..=max).contains(&n) {
                    return Err(format!("--{flag} {text}: expected {min} to {max}"));
                }
                Ok(Value::Count(n))
            }
            Kind::Number { min, max, .. } => {
                let x: f64 = text.parse().map_err(|_| format!("--{flag} {text}: expected a number"))?;
                if !(x.is_finite() && (min..=max).contains(&x)) {
                    return Err(format!("--{flag} {text}: expected a number from {min} to {max}"));
                }
                Ok(Value::Number(x))
            }
            Kind::Choice(names) => match names.iter().find(|n| **n == text) {
                Some(n) => Ok(Value::Choice(n)),
                None => Err(format!("--{flag} {text}: expected {}", one_of(names))),
            },
            Kind::Size(sizes) => match text.parse::<u64>().ok().filter(|s| sizes.contains(s)) {
                Some(s) => Ok(Value::Count(s)),
                None => Err(format!("--{flag} {text}: expected {}", one_of(&sizes.iter().map(u64::to_string).collect::<Vec<_>>()))),
            },
            Kind::Classes if text.trim() == "none" || text.trim().is_empty() => Ok(Value::Count(0)),
            Kind::Classes => {
                let mut mask = 0u64;
                for part in text.split(',') {
                    match part.trim().parse::<u32>() {
                        Ok(class) if class < 64 => mask |= 1 << class,
                        _ => return Err(format!("--{flag} {text}: expected class numbers 0 to 63, as 7,8,9")),
                    }
                }
                Ok(Value::Count(mask))
            }
        }
    }

    /// Refuses a value the command line would have refused (out of range, not one of the
    /// choices or sizes, of another type): a config file's values are checked as a flag's.
    pub fn check(&self, value: Value) -> Result<(), String> {
        let fits = match (self.kind, value) {
            (_, Value::Unset) => self.optional,
            (Kind::Switch, Value::Switch(_)) | (Kind::Choice(_), Value::Choice(_)) | (Kind::Classes, Value::Count(_)) => true,
            (Kind::Count { min, max }, Value::Count(n)) => (min..=max).contains(&n),
            (Kind::Number { min, max, .. }, Value::Number(x)) => x.is_finite() && (min..=max).contains(&x),
            (Kind::Number { min, max, .. }, Value::Count(n)) => (min..=max).contains(&(n as f64)),
            (Kind::Size(sizes), Value::Count(s)) => sizes.contains(&s),
            _ => false,
        };
        match fits {
            true => Ok(()),
            false => Err(format!("{} = {}: {}", self.name, self.show(value).unwrap_or_else(|| format!("{value:?}")), self.expected())),
        }
    }

    /// What the setting takes, in words.
    fn expected(&self) -> String {
        match self.kind {
            Kind::Switch => "expected true or false".into(),
            Kind::Count { min, max } => format!("expected a whole number from {min} to {max}"),
            Kind::Number { min, max, .. } => format!("expected a number from {min} to {max}"),
            Kind::Choice(names) => format!("expected {}", one_of(names)),
            Kind::Size(sizes) => format!("expected {}", one_of(&sizes.iter().map(u64::to_string).collect::<Vec<_>>())),
            Kind::Classes => "expected class numbers 0 to 63".into(),
        }
    }

    /// A value as the command line takes it (see [`Self::parse`]); `None` for a switch,
    /// which takes no value, and for an unset optional setting.
    pub fn show(&self, value: Value) -> Option<String> {
        match (self.kind, value) {
            (Kind::Classes, Value::Count(mask)) => Some(match classes_of(mask).as_slice() {
                [] => "none".to_string(),
                classes => classes.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
            }),
            (_, Value::Count(n)) => Some(n.to_string()),
            (_, Value::Number(x)) => Some(x.to_string()),
            (_, Value::Choice(c)) => Some(c.to_string()),
            (_, Value::Switch(_) | Value::Unset) => None,
        }
    }

    /// A value from a live change (`TrainCommand::SetHyperparameter` carries an f64).
    pub fn from_number(&self, x: f64) -> Result<Value, String> {
        match self.kind {
            Kind::Count { .. } | Kind::Size(_) if x.fract() != 0.0 || x < 0.0 => Err(format!("{} is a whole number, not {x}", self.name)),
            Kind::Count { .. } | Kind::Size(_) => self.parse(&(x as u64).to_string()),
            Kind::Number { .. } => self.parse(&x.to_string()),
            Kind::Switch => Ok(Value::Switch(x != 0.0)),
            Kind::Choice(_) => Err(format!("{} is a choice, not a number", self.name)),
            Kind::Classes => Err(format!("{} is a set of classes, not a number", self.name)),
        }
    }
}

/// The classes of a [`Kind::Classes`] mask, in order.
pub fn classes_of(mask: u64) -> Vec<u32> {
    (0..64).filter(|c| mask & (1 << c) != 0).collect()
}

/// "a, b or c".
pub fn one_of<S: AsRef<str>>(names: &[S]) -> String {
    match names {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => format!("{} or {}", rest.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "), last.as_ref()),
    }
}

/// A setting's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Switch(bool),
    Count(u64),
    Number(f64),
    Choice(&'static str),
    /// An optional setting left to the family.
    Unset,
}

impl Value {
    /// As a number, for logging live settings and for the form's "above 0" test.
    pub fn as_number(self) -> Option<f64> {
        match self {
            Value::Switch(on) => Some(if on { 1.0 } else { 0.0 }),
            Value::Count(n) => Some(n as f64),
            Value::Number(x) => Some(x),
            Value::Choice(_) | Value::Unset => None,
        }
    }

    /// Whether a setting that another `needs` lets it apply.
    pub fn enables(self) -> bool {
        self.as_number().is_some_and(|x| x > 0.0)
    }
}

/// A wrong value for a setting, naming it.
pub fn mismatch(setting: &str, value: Value) -> String {
    format!("{setting} cannot take {value:?}")
}

/// A config field as a count.
pub fn count(value: Value, setting: &str) -> Result<usize, String> {
    match value {
        Value::Count(n) => usize::try_from(n).map_err(|_| format!("{setting}: {n} is too large")),
        other => Err(mismatch(setting, other)),
    }
}

pub fn number(value: Value, setting: &str) -> Result<f64, String> {
    match value {
        Value::Number(x) => Ok(x),
        Value::Count(n) => Ok(n as f64),
        other => Err(mismatch(setting, other)),
    }
}

pub fn switch(value: Value, setting: &str) -> Result<bool, String> {
    match value {
        Value::Switch(on) => Ok(on),
        other => Err(mismatch(setting, other)),
    }
}

/// An optional number: `Unset` is `None`.
pub fn optional_number(value: Value, setting: &str) -> Result<Option<f64>, String> {
    match value {
        Value::Unset => Ok(None),
        other => number(other, setting).map(Some),
    }
}

pub fn optional_count(value: Value, setting: &str) -> Result<Option<u64>, String> {
    match value {
        Value::Unset => Ok(None),
        Value::Count(n) => Ok(Some(n)),
        other => Err(mismatch(setting, other)),
    }
}

/// A choice as the enum it names (by its serde name, as config.json spells it).
pub fn choice<T: DeserializeOwned>(value: Value, setting: &str) -> Result<T, String> {
    match value {
        Value::Choice(name) => serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| format!("{setting}: no choice {name}")),
        other => Err(mismatch(setting, other)),
    }
}

/// An enum as the choice of `names` it is (its serde name).
pub fn choice_of<T: Serialize>(value: &T, names: &'static [&'static str]) -> Value {
    let name = serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    names.iter().find(|n| **n == name).map_or(Value::Unset, |n| Value::Choice(n))
}

pub fn optional<T>(value: Option<T>, some: impl FnOnce(T) -> Value) -> Value {
    value.map_or(Value::Unset, some)
}

/// What a family's config offers the generic settings code: its table and a way to read
/// and write each row.
pub trait Configurable {
    fn settings(&self) -> &'static [Setting];
    /// The value of `name`, or `None` for a name not in the table.
    fn get(&self, name: &str) -> Option<Value>;
    /// Sets `name`; refuses a name not in the table or a value of the wrong kind. The
    /// config as a whole is checked by `validate`, not here.
    fn set(&mut self, name: &str, value: Value) -> Result<(), String>;
}

/// The row of `name` in `table`.
pub fn find(table: &'static [Setting], name: &str) -> Option<&'static Setting> {
    table.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_parsed_and_checked_against_their_kind() {
        let s = Setting::new("parts", "parts", "parts N", Kind::Count { min: 1, max: 64 }, Role::Network, "");
        assert_eq!(s.parse("16"), Ok(Value::Count(16)));
        assert!(s.parse("0").unwrap_err().contains("1 to 64"));
        assert!(s.parse("x").is_err());
        let c = Setting::new("arch", "arch", "architecture", Kind::Choice(&["resnet9", "higgins", "mlp"]), Role::Network, "");
        assert_eq!(c.parse("mlp"), Ok(Value::Choice("mlp")));
        assert_eq!(c.parse("cnn").unwrap_err(), "--arch cnn: expected resnet9, higgins or mlp");
        let n = Setting::new("beta", "beta", "β", Kind::Number { min: 0.0, max: 1000.0, speed: 0.1 }, Role::Live { logged: true }, "");
        assert_eq!(n.parse("2.5"), Ok(Value::Number(2.5)));
        assert!(n.parse("NaN").is_err() && n.parse("-1").is_err());
        assert_eq!(n.from_number(3.0), Ok(Value::Number(3.0)));
        let z = Setting::new("size", "size", "image size", Kind::Size(&[32, 64]), Role::Network, "");
        assert_eq!(z.parse("64"), Ok(Value::Count(64)));
        assert_eq!(z.parse("28").unwrap_err(), "--size 28: expected 32 or 64");
        let w = Setting::new("rec_warmup", "rec-warmup", "warm-up", Kind::Count { min: 0, max: 10 }, Role::Live { logged: false }, "");
        assert!(w.from_number(2.5).unwrap_err().contains("whole number"));
        let h = Setting::new("holdout_classes", "holdout-classes", "held-out classes", Kind::Classes, Role::Objective, "");
        assert_eq!(h.parse("7,8, 9"), Ok(Value::Count(0b11_1000_0000)));
        assert_eq!(h.show(Value::Count(0b11_1000_0000)).as_deref(), Some("7,8,9"));
        assert_eq!((h.parse("none"), h.show(Value::Count(0)).as_deref()), (Ok(Value::Count(0)), Some("none")));
        assert!(h.parse("7,x").is_err() && h.parse("64").is_err());
    }
}
