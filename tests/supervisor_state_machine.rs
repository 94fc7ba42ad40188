//! A state-machine test of the supervisor: random sequences of child administration, crashes
//! and clock jumps, checked after every step against a reference model of OTP's rules written
//! here, independently of the runtime's helpers.

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use common::kid::{kid, Kid};
use common::server::Log;
use ferrotp::prelude::*;
use ferrotp::supervisor::{
    ChildCounts, ChildPid, Restart, Strategy as RestartStrategy, Supervisor, SupervisorError,
    SupervisorFlags,
};
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

const IDS: [&str; 4] = ["c0", "c1", "c2", "c3"];
const TYPES: [Restart; 3] = [Restart::Permanent, Restart::Transient, Restart::Temporary];
const MAX_RESTARTS: usize = 3;
const PERIOD: u64 = 5;

#[derive(Clone, Debug)]
enum Step {
    Start(usize, usize),
    Terminate(usize),
    Restart(usize),
    Delete(usize),
    /// 0 normal, 1 shutdown, 2 crash, 3 kill.
    Exit(usize, u8),
    Advance(u64),
}

#[derive(Clone, Debug)]
struct ModelChild {
    id: usize,
    restart: Restart,
    running: bool,
}

#[derive(Clone, Debug)]
struct Model {
    /// Present children, in start order.
    children: Vec<ModelChild>,
    restarts: VecDeque<u64>,
    now: u64,
    alive: bool,
}

impl Model {
    fn find(&self, id: usize) -> Option<usize> {
        self.children.iter().position(|c| c.id == id)
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            children: Vec::new(),
            restarts: VecDeque::new(),
            now: 0,
            alive: true,
        })
        .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            3 => (0..IDS.len(), 0..TYPES.len()).prop_map(|(i, t)| Step::Start(i, t)),
            1 => (0..IDS.len()).prop_map(Step::Terminate),
            1 => (0..IDS.len()).prop_map(Step::Restart),
            1 => (0..IDS.len()).prop_map(Step::Delete),
            4 => (0..IDS.len(), 0..4u8).prop_map(|(i, k)| Step::Exit(i, k)),
            2 => (1..8u64).prop_map(Step::Advance),
        ]
        .boxed()
    }

    fn preconditions(m: &Model, step: &Step) -> bool {
        match step {
            Step::Advance(_) => true,
            // Only a running child can exit.
            Step::Exit(id, _) => m.alive && m.find(*id).is_some_and(|i| m.children[i].running),
            _ => m.alive,
        }
    }

    fn apply(mut m: Model, step: &Step) -> Model {
        match *step {
            Step::Advance(s) => m.now += s,
            Step::Start(id, t) => {
                if m.find(id).is_none() {
                    m.children.push(ModelChild {
                        id,
                        restart: TYPES[t],
                        running: true,
                    });
                }
            }
            Step::Terminate(id) => {
                if let Some(i) = m.find(id) {
                    m.children[i].running = false;
                    if m.children[i].restart == Restart::Temporary {
                        m.children.remove(i);
                    }
                }
            }
            Step::Restart(id) => {
                if let Some(i) = m.find(id) {
                    m.children[i].running = true;
                }
            }
            Step::Delete(id) => {
                if let Some(i) = m.find(id) {
                    if !m.children[i].running {
                        m.children.remove(i);
                    }
                }
            }
            Step::Exit(id, kind) => {
                let i = m.find(id).expect("precondition");
                m.children[i].running = false;
                let abnormal = kind >= 2;
                let restart = match m.children[i].restart {
                    Restart::Permanent => true,
                    Restart::Transient => abnormal,
                    Restart::Temporary => false,
                };
                if m.children[i].restart == Restart::Temporary {
                    m.children.remove(i);
                } else if restart {
                    let now = m.now;
                    m.restarts.retain(|&t| t + PERIOD >= now);
                    m.restarts.push_back(now);
                    if m.restarts.len() > MAX_RESTARTS {
                        m.alive = false;
                    } else {
                        m.children[i].running = true;
                    }
                }
            }
        }
        m
    }
}

struct Sut {
    rt: tokio::runtime::Runtime,
    sup: Supervisor,
    exited: Option<ferrotp::process::AwaitExit>,
    log: Log,
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (sup, exited) = rt.block_on(async {
            let flags = SupervisorFlags::new(RestartStrategy::OneForOne)
                .max_restarts(MAX_RESTARTS as u32)
                .max_seconds(PERIOD);
            let sup = Supervisor::start(flags, vec![]).await.unwrap();
            let exited = process::await_exit(sup.pid().unwrap());
            (sup, exited)
        });
        Sut {
            rt,
            sup,
            exited: Some(exited),
            log: Log::default(),
        }
    }

    fn apply(mut s: Sut, before_and_after: &Model, step: Step) -> Sut {
        let model = before_and_after;
        let sup = s.sup.clone();
        let log = s.log.clone();
        let exited = &mut s.exited;
        s.rt.block_on(async {
            match step {
                Step::Advance(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                Step::Start(id, t) => {
                    let r = sup.start_child(kid(IDS[id], &log).restart(TYPES[t])).await;
                    match r {
                        Ok(Some(_)) => {}
                        Err(
                            SupervisorError::AlreadyStarted(_) | SupervisorError::AlreadyPresent,
                        ) => {}
                        other => panic!("start_child({}) gave {other:?}", IDS[id]),
                    }
                }
                Step::Terminate(id) => {
                    let r = sup.terminate_child(IDS[id]).await;
                    assert!(
                        matches!(r, Ok(()) | Err(SupervisorError::NotFound)),
                        "{r:?}"
                    );
                }
                Step::Restart(id) => {
                    let r = sup.restart_child(IDS[id]).await;
                    assert!(
                        matches!(
                            r,
                            Ok(Some(_)) | Err(SupervisorError::NotFound | SupervisorError::Running)
                        ),
                        "{r:?}"
                    );
                }
                Step::Delete(id) => {
                    let r = sup.delete_child(IDS[id]).await;
                    assert!(
                        matches!(
                            r,
                            Ok(()) | Err(SupervisorError::NotFound | SupervisorError::Running)
                        ),
                        "{r:?}"
                    );
                }
                Step::Exit(id, kind) => {
                    let children = sup.which_children().await.unwrap();
                    let child = children.iter().find(|c| &*c.id == IDS[id]).unwrap();
                    let ChildPid::Running(pid) = child.pid else {
                        panic!("{} should be running", IDS[id])
                    };
                    let gone = process::await_exit(pid);
                    let reasons = [
                        ExitReason::Normal,
                        ExitReason::Shutdown,
                        ExitReason::error("crash"),
                    ];
                    if kind == 3 {
                        process::exit(pid, ExitReason::Kill).unwrap();
                    } else {
                        Server::<Kid>::from_pid(pid)
                            .unwrap()
                            .cast(reasons[kind as usize].clone());
                    }
                    gone.await;
                    if model.alive {
                        // Served after the exit: the supervisor has reacted.
                        sup.count_children().await.unwrap();
                    } else {
                        let reason = exited.take().expect("dies once").await;
                        assert_eq!(reason, ExitReason::Shutdown, "exceeded intensity");
                    }
                }
            }
        });
        s
    }

    fn check_invariants(s: &Sut, model: &Model) {
        if !model.alive {
            assert!(!s.sup.pid().is_some_and(process::is_alive));
            return;
        }
        s.rt.block_on(async {
            let children = s.sup.which_children().await.unwrap();
            // Newest first, as OTP.
            let ids: Vec<&str> = children.iter().map(|c| &*c.id).collect();
            let expected: Vec<&str> = model.children.iter().rev().map(|c| IDS[c.id]).collect();
            assert_eq!(ids, expected);
            for (c, mc) in children.iter().zip(model.children.iter().rev()) {
                let running = matches!(c.pid, ChildPid::Running(p) if process::is_alive(p));
                assert_eq!(running, mc.running, "{}", IDS[mc.id]);
            }
            let active = model.children.iter().filter(|c| c.running).count();
            assert_eq!(
                s.sup.count_children().await.unwrap(),
                ChildCounts {
                    specs: model.children.len(),
                    active,
                    supervisors: 0,
                    workers: model.children.len(),
                }
            );
        });
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        max_shrink_iters: 2000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(common::seed::proptest_seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_supervisor_matches_the_reference_model(sequential 1..40 => Sut);
}
