//! Property: under any sequence of crashes and clock jumps, a one-for-one supervisor keeps
//! every child running that OTP's rules say should run, and gives up exactly when its
//! restart intensity is exceeded.
//!
//! The model below is written from OTP's rules, independently of the runtime's helpers.

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use common::kid::{kid, Kid};
use common::server::Log;
use ferrotp::prelude::*;
use ferrotp::supervisor::{
    ChildPid, Restart, Strategy as RestartStrategy, Supervisor, SupervisorFlags,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Child `i` exits: 0 = normal, 1 = shutdown, 2 = crash, 3 = kill.
    Exit(usize, u8),
    /// The clock moves on by whole seconds.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..4u8).prop_map(|(i, k)| Op::Exit(i, k)),
        1 => (1..8u64).prop_map(Op::Advance),
    ]
}

const TYPES: [Restart; 3] = [Restart::Permanent, Restart::Transient, Restart::Temporary];
const IDS: [&str; 3] = ["p", "t", "tmp"];

struct Model {
    running: [bool; 3],
    present: [bool; 3],
    restarts: VecDeque<u64>,
    max_restarts: usize,
    period: u64,
    alive: bool,
}

impl Model {
    /// OTP's do_restart + add_restart, restated.
    fn exit(&mut self, i: usize, kind: u8, now: u64) {
        if !self.alive || !self.running[i] {
            return;
        }
        self.running[i] = false;
        let abnormal = kind >= 2;
        let restart = match TYPES[i] {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if TYPES[i] == Restart::Temporary {
            self.present[i] = false;
        }
        if !restart {
            return;
        }
        self.restarts.retain(|&t| t + self.period >= now);
        self.restarts.push_back(now);
        if self.restarts.len() > self.max_restarts {
            self.alive = false;
        } else {
            self.running[i] = true;
        }
    }
}

async fn check(ops: Vec<Op>, max_restarts: u32, period: u64) -> Result<(), TestCaseError> {
    let log = Log::default();
    let specs = (0..3)
        .map(|i| kid(IDS[i], &log).restart(TYPES[i]))
        .collect();
    let sup = Supervisor::start(
        SupervisorFlags::new(RestartStrategy::OneForOne)
            .max_restarts(max_restarts)
            .max_seconds(period),
        specs,
    )
    .await
    .unwrap();
    let sup_pid = sup.pid().unwrap();
    let sup_exit = process::await_exit(sup_pid);
    let start = tokio::time::Instant::now();
    let mut model = Model {
        running: [true; 3],
        present: [true; 3],
        restarts: VecDeque::new(),
        max_restarts: max_restarts as usize,
        period,
        alive: true,
    };
    for op in ops {
        match op {
            Op::Advance(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            Op::Exit(i, kind) => {
                if !model.alive || !model.running[i] {
                    continue;
                }
                let children = sup.which_children().await.unwrap();
                let child = children.iter().find(|c| &*c.id == IDS[i]).unwrap();
                let ChildPid::Running(pid) = child.pid else {
                    return Err(TestCaseError::fail(format!("{} should be running", IDS[i])));
                };
                let gone = process::await_exit(pid);
                let reason = [
                    ExitReason::Normal,
                    ExitReason::Shutdown,
                    ExitReason::error("crash"),
                ];
                match kind {
                    3 => {
                        process::exit(pid, ExitReason::Kill).unwrap();
                    }
                    k => Server::<Kid>::from_pid(pid)
                        .unwrap()
                        .cast(reason[k as usize].clone()),
                }
                gone.await;
                model.exit(i, kind, start.elapsed().as_secs());
            }
        }
        if model.alive {
            let children = sup
                .which_children()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (i, id) in IDS.iter().enumerate() {
                let c = children.iter().find(|c| &*c.id == *id);
                prop_assert_eq!(c.is_some(), model.present[i], "presence of {}", id);
                if let Some(c) = c {
                    let running = matches!(c.pid, ChildPid::Running(p) if process::is_alive(p));
                    prop_assert_eq!(running, model.running[i], "running of {}", id);
                }
            }
        } else {
            prop_assert_eq!(sup_exit.await, ExitReason::Shutdown);
            return Ok(());
        }
    }
    prop_assert!(process::is_alive(sup_pid));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        rng_seed: proptest::test_runner::RngSeed::Fixed(common::seed::proptest_seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_supervisor_follows_otps_restart_rules(
        ops in prop::collection::vec(op(), 1..40),
        max_restarts in 0u32..4,
        period in 1u64..6,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(check(ops, max_restarts, period))?;
    }
}
