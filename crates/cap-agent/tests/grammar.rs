//! The decoding grammar, checked by llama.cpp itself: every reference policy must be
//! writable under its scene's grammar (tokens of the small test model fed through the
//! grammar sampler), and programs that misuse the API must not be.
//!
//! Needs the test model: `bash scripts/fetch-llm.sh test` (setup.sh fetches it).

use std::path::{Path, PathBuf};

use cap_agent::grammar::program_grammar;
use cap_core::scene::Scene;
use cap_llm::local::{resolve_model, LocalConfig, LocalProvider};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> LocalProvider {
    let (path, known) = resolve_model(Some("smollm2-135m")).unwrap_or_else(|e| panic!("{e}"));
    LocalProvider::load(LocalConfig::new(path, known))
        .unwrap_or_else(|e| panic!("{e} (fetch it with `bash scripts/fetch-llm.sh test`)"))
}

fn fenced(program: &str) -> String {
    format!("```rhai\n{}```", program)
}

#[test]
fn reference_policies_fit_the_grammar_and_misuse_does_not() {
    let m = model();
    let mut checked = 0;
    for scene_file in ["tabletop.toml", "sorting.toml", "stacking.toml"] {
        let scene =
            Scene::load(root().join("scenes").join(scene_file)).unwrap_or_else(|e| panic!("{e}"));
        let g = program_grammar(&scene);
        for task in &scene.tasks {
            let path = root()
                .join("examples/policies")
                .join(format!("{}.rhai", task.name));
            let src = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(r) = m.grammar_accepts(&g, &fenced(&src)) {
                panic!("{}: {}", path.display(), r.message);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 12);

    let scene = Scene::load(root().join("scenes/tabletop.toml")).unwrap_or_else(|e| panic!("{e}"));
    let g = program_grammar(&scene);
    for bad in [
        "pick(\"purple_block\");\n",           // no such object
        "grab(\"red_block\");\n",              // no such function
        "place_on(\"red_block\");\n",          // wrong arity
        "pick(\"red_block\")\n",               // missing semicolon
        "Sure! Here is the program:\n",        // prose
        "point(\"red_block\", \"middle\");\n", // not a functional point
    ] {
        assert!(
            m.grammar_accepts(&g, &fenced(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}
