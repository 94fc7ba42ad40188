//! Supervisor flags and their validation.

use std::collections::HashSet;

use super::{
    ChildSpec, ChildSpecProblem, FlagsProblem, Intensity, Restart, Strategy, SupervisorError,
};

/// When a supervisor shuts itself down because significant children ended (OTP 24's
/// `auto_shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// Never; `significant` children are not allowed.
    #[default]
    Never,
    /// When any significant child terminates and is not restarted.
    AnySignificant,
    /// When the last running significant child terminates and is not restarted.
    AllSignificant,
}

/// How a supervisor behaves: its strategy, restart intensity and auto-shutdown.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use ferrotp::supervisor::{Strategy, SupervisorFlags};
///
/// let flags = SupervisorFlags::new(Strategy::OneForAll).max_restarts(10).max_seconds(60);
/// assert_eq!(flags.intensity.max_restarts, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SupervisorFlags {
    /// The restart strategy.
    pub strategy: Strategy,
    /// Restarts tolerated per window (Elixir's defaults: 3 in 5 s).
    pub intensity: Intensity,
    /// Auto-shutdown on significant children.
    pub auto_shutdown: AutoShutdown,
}

impl SupervisorFlags {
    /// `strategy` with Elixir's default intensity (3 restarts in 5 s) and no auto-shutdown.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorFlags {
            strategy,
            ..Default::default()
        }
    }

    /// Restarts tolerated within `max_seconds`.
    pub fn max_restarts(mut self, n: u32) -> Self {
        self.intensity.max_restarts = n;
        self
    }

    /// The window of the intensity, in whole seconds (at least 1).
    pub fn max_seconds(mut self, seconds: u64) -> Self {
        self.intensity.max_seconds = seconds;
        self
    }

    /// Set auto-shutdown.
    pub fn auto_shutdown(mut self, auto: AutoShutdown) -> Self {
        self.auto_shutdown = auto;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), SupervisorError> {
        if self.intensity.max_seconds == 0 {
            return Err(SupervisorError::InvalidFlags(FlagsProblem::ZeroPeriod));
        }
        Ok(())
    }

    /// Check one spec against these flags (OTP's `check_childspec`).
    pub(crate) fn validate_child(&self, spec: &ChildSpec) -> Result<(), SupervisorError> {
        let invalid = |problem| SupervisorError::InvalidChildSpec {
            id: spec.id.clone(),
            problem,
        };
        if spec.significant && spec.restart == Restart::Permanent {
            return Err(invalid(ChildSpecProblem::SignificantPermanent));
        }
        if spec.significant && self.auto_shutdown == AutoShutdown::Never {
            return Err(invalid(ChildSpecProblem::SignificantWithoutAutoShutdown));
        }
        check_spec(spec)
    }

    pub(crate) fn validate_children(&self, specs: &[ChildSpec]) -> Result<(), SupervisorError> {
        self.validate()?;
        let mut seen = HashSet::new();
        for spec in specs {
            self.validate_child(spec)?;
            if !seen.insert(spec.id.clone()) {
                return Err(SupervisorError::DuplicateChildId(spec.id.clone()));
            }
        }
        Ok(())
    }
}

/// The checks every supervisor makes of a spec, whatever its flags.
pub(crate) fn check_spec(spec: &ChildSpec) -> Result<(), SupervisorError> {
    let invalid = |problem| SupervisorError::InvalidChildSpec {
        id: spec.id.clone(),
        problem,
    };
    if let super::Shutdown::Timeout(d) = spec.shutdown {
        if d.is_zero() {
            return Err(invalid(ChildSpecProblem::ZeroShutdownTimeout));
        }
    }
    if spec.is_one_shot() && spec.restart != Restart::Temporary {
        return Err(invalid(ChildSpecProblem::OneShotRestart));
    }
    Ok(())
}
