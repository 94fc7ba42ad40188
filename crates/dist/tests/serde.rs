//! The serde mapping between Rust types and Erlang terms (the table in `ferrotp_dist::serde`),
//! checked against our own codec and, where Erlang is installed, against the BEAM.

mod common;

use std::collections::BTreeMap;

use common::{binary_literal, erl_eval, erlang_available, parse_binary};
use ferrotp_dist::{from_term, to_term, Atom, SerdeError, Term};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    age: u32,
    email: Option<String>,
    tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Command {
    Ping,
    Set(i64),
    Move(i32, i32),
    Resize { w: u16, h: u16 },
}

fn atom(s: &str) -> Term {
    Term::Atom(Atom::new(s))
}

fn binary(s: &str) -> Term {
    Term::Binary(s.as_bytes().to_vec())
}

fn user() -> User {
    User {
        name: "José".into(),
        age: 42,
        email: None,
        tags: vec!["admin".into()],
    }
}

#[test]
fn a_struct_is_a_map_with_atom_keys_and_strings_are_binaries() {
    let term = to_term(&user()).unwrap();
    assert_eq!(
        term,
        Term::Map(vec![
            (atom("name"), binary("José")),
            (atom("age"), Term::Integer(42)),
            (atom("email"), atom("nil")),
            (atom("tags"), Term::list([binary("admin")])),
        ])
    );
    assert_eq!(from_term::<User>(term.clone()).unwrap(), user());
}

#[test]
fn unit_variants_are_atoms_and_other_variants_tagged_tuples() {
    let cases = [
        (Command::Ping, atom("ping")),
        (
            Command::Set(-7),
            Term::tuple([atom("set"), Term::Integer(-7)]),
        ),
        (
            Command::Move(1, 2),
            Term::tuple([atom("move"), Term::Integer(1), Term::Integer(2)]),
        ),
        (
            Command::Resize { w: 3, h: 4 },
            Term::tuple([
                atom("resize"),
                Term::Map(vec![
                    (atom("w"), Term::Integer(3)),
                    (atom("h"), Term::Integer(4)),
                ]),
            ]),
        ),
    ];
    for (command, term) in cases {
        assert_eq!(to_term(&command).unwrap(), term, "{command:?}");
        assert_eq!(from_term::<Command>(term.clone()).unwrap(), command);
    }
}

#[test]
fn option_is_nil_or_the_value_and_undefined_is_accepted_as_none() {
    assert_eq!(to_term(&Some(5u8)).unwrap(), Term::Integer(5));
    assert_eq!(to_term(&None::<u8>).unwrap(), atom("nil"));
    assert_eq!(from_term::<Option<u8>>(atom("undefined")).unwrap(), None);
    assert_eq!(from_term::<Option<u8>>(Term::Integer(5)).unwrap(), Some(5));
}

#[test]
fn an_elixir_struct_decodes_ignoring_its_struct_key() {
    let term = Term::Map(vec![
        (atom("__struct__"), atom("Elixir.User")),
        (atom("name"), binary("Ann")),
        (atom("age"), Term::Integer(30)),
        (atom("email"), binary("ann@example.com")),
        (atom("tags"), Term::nil()),
    ]);
    let decoded: User = from_term(term).unwrap();
    assert_eq!(decoded.email.as_deref(), Some("ann@example.com"));
    assert!(decoded.tags.is_empty());
}

#[test]
fn maps_tuples_and_big_integers_map_both_ways() {
    let mut scores = BTreeMap::new();
    scores.insert("a".to_string(), (1u8, u128::MAX));
    let term = to_term(&scores).unwrap();
    assert_eq!(
        from_term::<BTreeMap<String, (u8, u128)>>(term).unwrap(),
        scores
    );
}

#[test]
fn a_term_nested_in_a_rust_value_passes_through_unchanged() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Envelope {
        from: Term,
        body: String,
    }
    let pid = Term::tuple([atom("anything"), Term::list([Term::Integer(1)])]);
    let envelope = Envelope {
        from: pid.clone(),
        body: "hi".into(),
    };
    let term = to_term(&envelope).unwrap();
    assert_eq!(
        term,
        Term::Map(vec![(atom("from"), pid), (atom("body"), binary("hi"))])
    );
    assert_eq!(from_term::<Envelope>(term.clone()).unwrap(), envelope);
}

#[test]
fn a_term_of_the_wrong_shape_is_a_typed_error_naming_what_was_expected() {
    let err = from_term::<User>(Term::Integer(1)).unwrap_err();
    assert!(matches!(err, SerdeError::Unexpected { .. }), "{err:?}");
    assert!(err.to_string().contains("expected"), "{err}");
    let err = from_term::<u8>(Term::Integer(300)).unwrap_err();
    assert!(err.to_string().contains("300"), "{err}");
}

#[test]
fn the_beam_reads_a_rust_struct_as_the_map_an_elixir_developer_expects() {
    if !erlang_available("the_beam_reads_a_rust_struct_as_the_map_an_elixir_developer_expects") {
        return;
    }
    let bytes = to_term(&(user(), Command::Move(1, 2)))
        .unwrap()
        .encode()
        .unwrap();
    let expected =
        "{#{name => <<\"José\"/utf8>>, age => 42, email => nil, tags => [<<\"admin\">>]}, \
                    {move, 1, 2}}";
    let printed = erl_eval(&format!(
        "binary_to_term({}) =:= {expected}",
        binary_literal(&bytes)
    ));
    assert_eq!(printed.trim(), "true");
}

#[test]
fn a_map_made_by_the_beam_decodes_into_a_rust_struct() {
    if !erlang_available("a_map_made_by_the_beam_decodes_into_a_rust_struct") {
        return;
    }
    let printed = erl_eval(
        "term_to_binary({#{name => <<\"José\"/utf8>>, age => 42, email => nil, \
         tags => [<<\"admin\">>], '__struct__' => 'Elixir.User'}, {resize, #{w => 3, h => 4}}})",
    );
    let term = Term::decode(&parse_binary(&printed)).unwrap();
    let (decoded, command): (User, Command) = from_term(term).unwrap();
    assert_eq!(decoded, user());
    assert_eq!(command, Command::Resize { w: 3, h: 4 });
}
