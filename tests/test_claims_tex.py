"""Verification reads the TeX: the equation on screen is the thing checked.

Every claim's TeX reads in the project's notation; a wrong equation (the claim's TeX mutated the
way a slip of the pen would: a sign, β, a log, a term, y_w/y_l on one side, π*/π_ref, ≥/≤, ∞/0)
fails verification with the lab's code unchanged; and TeX outside the notation fails verification
with a message that says where.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lab.claims import all_claims, get_claim, verify
from lab.claims.evaluate import EvaluationError, value_of
from lab.claims.expressions import Check, closest_call
from lab.claims.mutants import MutantScore, mutant_score, mutants, nodes
from lab.claims.named import Binding, Named, Table
from lab.claims.tex import (
    Big,
    Binary,
    Call,
    Expect,
    Given,
    Implies,
    Node,
    Prefer,
    Relation,
    Statements,
    Sym,
    TexError,
    read_tex,
    symbol_name,
)
from lab.report.claims import mutant_table

CLAIMS = all_claims()
REQUIRED_SHARE = 0.90

# Mutants that are still true statements, so no check can fail them. Any other survivor is a
# wrong equation that verification let through: the test below fails for it.
STILL_TRUE = {
    # β → ∞: π_ref → π_ref and π* → π*: a quantity tends to itself.
    ("step1.beta_limits", r"\beta \to \infty: \ \pi_{\mathrm{ref}} \to \pi_{\mathrm{ref}}"),
    ("step1.beta_limits", r"\beta \to \infty: \ \pi^* \to \pi^*"),
    # r − f(x) is in the same class as r + f(x) (f is any function of x); r itself trivially;
    # and π_ref does not depend on r at all.
    ("step3.equivalence_class", r"r(x, y) - f(x) \ \Rightarrow \ \text{the same } \pi^*"),
    ("step3.equivalence_class", r"r(x, y) \ \Rightarrow \ \text{the same } \pi^*"),
    ("step3.equivalence_class", r"\text{the same } \pi_{\mathrm{ref}}"),
    # a ≻ b, b ≻ c with no MLE: r̂(b) − r̂(c) diverges as well, and so does −r̂(c).
    ("step6.no_mle_no_limit", r"\hat r_\theta(x, b) - \hat r_\theta(x, c) \to \infty"),
    ("step6.no_mle_no_limit", r"\ \Rightarrow \ -\hat r_\theta(x, c) \to \infty"),
    # a term dropped from both sides at once leaves x = x.
    ("step7.padding_invariant", r"= \sum_{t=1}^{T} m_t \log \pi_\theta(s_t \mid s_{<t})"),
    # J(π_θ) ≤ J(π*) ≤ E_{π*}[r] ≤ E_{π*}[r] + β KL(π* ‖ π_ref): a right side that only grew;
    # KL of a policy with itself is 0, which leaves E_{π*}[r] on the right too.
    ("limits.beta_frontier", r"[r(x, y)] + \beta\, \mathrm{KL}(\pi^* \| \pi_{\mathrm{ref}})"),
    ("limits.beta_frontier", r"\mathrm{KL}(\pi_{\mathrm{ref}} \| \pi_{\mathrm{ref}})"),
    ("limits.beta_frontier", r"\mathrm{KL}(\pi^* \| \pi^*)"),
    (
        "limits.beta_frontier",
        r"\mathbb{E}_{y \sim \pi_\theta}[r(x, y)] - \beta\, \mathrm{KL}(\pi_\theta \| "
        r"\pi_{\mathrm{ref}}) \le \mathbb{E}_{y \sim \pi^*}[r(x, y)]",
    ),
    # −β KL(π_θ ‖ π_ref) ≤ 0 < E_{π_ref}[r] = J(π_ref) ≤ J(π*): every prompt's E_{π_ref}[r] is > 0.
    ("limits.beta_frontier", r"-\beta\, \mathrm{KL}(\pi_\theta \| \pi_{\mathrm{ref}}) \le"),
    # DPO leaves y⁺ below π*(y⁺) as well as below π_ref(y⁺).
    ("limits.no_exploration", r"\le \pi^*(y^+ \mid x)"),
    # The rejected responses' implicit reward is negative on average too (it falls further: that
    # is the margin), so E[r̂_l] ≤ 0 and E[−r̂_l] ≥ 0 are true.
    ("limits.chosen_falls", r"\mathbb{E}[\hat r_\theta(x, y_l)] \le 0 \qquad"),
    ("limits.chosen_falls", r"\qquad \mathbb{E}[-\hat r_\theta(x, y_l)] \ge 0"),
}


@pytest.fixture(scope="module")
def scores() -> list[MutantScore]:
    return [mutant_score(claim) for claim in CLAIMS]


EQUATIONS = [claim for claim in CLAIMS if claim.language == "tex"]  # not code claims


@pytest.mark.parametrize("claim", EQUATIONS, ids=[c.id for c in EQUATIONS])
def test_every_claims_tex_reads_and_each_node_knows_its_text(claim) -> None:
    """The tree covers the whole TeX, and each expression's span reads back to that expression:
    the mutants cut and swap by these spans."""
    tree = read_tex(claim.tex)
    assert tree.span[0] == 0 and claim.tex[tree.span[1] :].strip() == ""
    statements = (Relation, Implies, Given, Statements, Prefer)  # not expressions on their own
    for node in nodes(tree, Node):
        if not isinstance(node, statements):
            assert read_tex(claim.tex[slice(*node.span)]) == node, claim.tex[slice(*node.span)]


def test_mutated_tex_fails_verification(scores: list[MutantScore]) -> None:
    """≥ 90 % of all mutants fail; the table (per claim) is in the message and in `-s` output."""
    table = mutant_table(scores)
    print(table)
    total = sum(len(s.mutants) for s in scores)
    caught = sum(s.caught for s in scores)
    assert total >= 150, f"too few mutants to mean anything: {total}"
    assert caught / total >= REQUIRED_SHARE, table


def test_every_surviving_mutant_is_a_true_statement(scores: list[MutantScore]) -> None:
    unexplained = [
        f"{s.claim.id} ({m.kind}): {m.tex}"
        for s in scores
        for m in s.survivors
        if not any(s.claim.id == claim and piece in m.tex for claim, piece in STILL_TRUE)
    ]
    assert unexplained == [], "\n".join(unexplained)


@pytest.mark.parametrize(
    ("claim_id", "right", "wrong"),
    [
        ("step5.dpo_loss", r"= -\mathbb{E}", r"= \mathbb{E}"),  # the leading minus dropped
        ("step2.stationarity", r"- \beta - \lambda", r"+ \beta - \lambda"),
        ("step6.dpo_gradient", r"\sigma\big(\hat r_\theta(x, y_l) - \hat r_\theta(x, y_w)\big)",
         r"\sigma\big(\hat r_\theta(x, y_w) - \hat r_\theta(x, y_l)\big)"),
    ],
)  # fmt: skip
def test_the_wrong_equations_of_the_issue_fail(claim_id: str, right: str, wrong: str) -> None:
    """The three edits that used to pass everything: the code unchanged, only the TeX wrong."""
    claim = get_claim(claim_id)
    assert right in claim.tex
    assert verify(claim).ok
    wrong_claim = dataclasses.replace(claim, tex=claim.tex.replace(right, wrong))
    verdict = verify(wrong_claim)
    assert not verdict.passed, verdict.check.measured
    assert "TeX fails" in verdict.check.note


def test_a_symbol_the_lab_does_not_bind_fails_and_is_named() -> None:
    claim = get_claim("step2.partition")
    wrong = dataclasses.replace(claim, tex=claim.tex.replace(r"\pi_{\mathrm{ref}}", r"\pi_{0}"))
    verdict = verify(wrong)
    assert not verdict.passed
    assert "pi_{0}" in verdict.check.note and "does not bind" in verdict.check.note


@pytest.mark.parametrize(
    ("tex", "complaint"),
    [
        (r"a = b \oslash c", r"unexpected '\\oslash' at character 6"),
        (r"\mathbb{P}[a]", "only \\mathbb{E} is read"),
        (r"\sum x", "needs a variable to run over"),
        (r"\frac{a}{b", "expected '}', the TeX ended"),
        (r"\text{for all } x", r"unknown words \text{for all}"),
    ],
)
def test_tex_outside_the_notation_is_refused_with_its_place(tex: str, complaint: str) -> None:
    with pytest.raises(TexError) as error:
        read_tex(tex)
    assert complaint in str(error.value)


def test_the_reader_knows_the_lectures_notation() -> None:
    assert symbol_name(r"\pi_{\mathrm{ref}}") == "pi_{ref}"
    assert symbol_name(r"\pi^*") == "pi^{*}"
    assert symbol_name(r"\hat r_\theta") == "hat r_{theta}"
    call = read_tex(r"\pi_\theta(y_w \mid x)")
    assert isinstance(call, Call) and call.name == "pi_{theta}"
    assert call.args == (Sym((0, 0), "y_{w}"),) and call.given == (Sym((0, 0), "x"),)
    product = read_tex(r"\beta \log Z(x)")  # juxtaposition multiplies
    assert isinstance(product, Binary) and product.op == "*"
    expectation = read_tex(r"\mathbb{E}_{(x, y_w, y_l) \sim \mathcal{D}}[a]")
    assert isinstance(expectation, Expect) and expectation.variables == ("x", "y_{w}", "y_{l}")
    relation = read_tex(r"a = b \ge c")
    assert isinstance(relation, Relation) and relation.ops == ("=", "ge")
    # Spacing is typography: the same mathematics reads the same.
    assert read_tex(r"a\,=\;\frac{b}{c}") == read_tex(r"a = \frac{b}{c}")


def test_a_sum_outside_a_set_runs_over_the_rest_of_the_domain() -> None:
    """\\sum_{y \\notin S}: S bound as a set's indicator per prompt; the sum runs over the other
    responses of each prompt, and \\sum_{y \\in S} still runs over the values S lists."""
    outside = read_tex(r"\sum_{y \notin \mathcal{D}} \pi(y \mid x)")
    assert (
        isinstance(outside, Big) and outside.outside and outside.domain == Sym((0, 0), "mathcal D")
    )
    assert not read_tex(r"\sum_{y \in \mathcal{Y}} \pi(y \mid x)").outside
    pi = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]], dtype=torch.float64)
    seen = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float64)
    values = {"pi": Table(Named(pi, ("x", "y")), ("y", "x"))}
    indicator = Table(Named(seen, ("x", "y")), ("y",))
    binding = Binding({"x": 2, "y": 4}, {**values, "mathcal D": indicator})
    assert value_of(outside, binding).values.tolist() == pytest.approx([0.6, 0.9])
    listed = Binding({"x": 2, "y": 4}, {**values, "mathcal Y": Named(torch.tensor([1, 3]), ("i",))})
    inside = read_tex(r"\sum_{y \in \mathcal{Y}} \pi(y \mid x)")
    assert value_of(inside, listed).values.tolist() == pytest.approx([0.6, 0.4])
    not_a_set = Binding({"x": 2, "y": 4}, {**values, "mathcal D": Named(seen, ("x", "y"))})
    with pytest.raises(EvaluationError, match="needs S bound as a set's indicator"):
        value_of(outside, not_a_set)


def test_mutants_are_distinct_wrong_versions_of_the_tex() -> None:
    tex = r"\beta \log \pi^*(y_w) - \log \pi_{\mathrm{ref}}(y_l) \ge 0"
    found = mutants(tex)
    kinds = {m.kind for m in found}
    assert kinds >= {
        "a sign flipped",
        "β dropped",
        "a log dropped",
        "an inequality turned",
        "π* and π_ref swapped",
        "y_w and y_l swapped on one side",
        "a term dropped",
    }
    texts = [m.tex for m in found]
    assert tex not in texts and len(set(texts)) == len(texts)
    assert r"\beta \log \pi^*(y_l) - \log \pi_{\mathrm{ref}}(y_w) \ge 0" in texts
    # Words are not mathematics: \text{…} is never mutated.
    assert mutants(r"a \text{(a - b)}") == []


def test_the_tex_figure_is_the_closest_call_and_its_allowance() -> None:
    """A relation reports the element nearest its allowance, not the largest difference: a 5.0
    within an allowance of 100 is a safer call than 0.001 within 0.002."""
    inf = float("inf")
    difference = torch.tensor([1e-3, 5.0, 50.0])
    allowance = torch.tensor([2e-3, 100.0, inf])  # the last element is unconstrained
    assert closest_call(difference, allowance) == pytest.approx((1e-3, 2e-3))
    assert closest_call(torch.tensor([0.0]), torch.tensor([0.0])) == (0.0, 0.0)
    check = Check("=", False, 1.0, 0.0)
    assert check.share == float("inf")


def test_a_claims_evidence_names_the_bound_of_each_figure() -> None:
    """The tolerance reported is the one applied: the headline's bound, and the TeX's."""
    verdict = verify(get_claim("step7.prompt_masked"))
    assert verdict.check.headline[0] == "tex_residual"
    assert verdict.check.all_bounds["tex_residual"] == verdict.check.tolerance > 0
    assert verdict.check.headline[1] <= verdict.check.tolerance
    lab_and_tex = verify(get_claim("step5.dpo_loss")).as_dict()["bounds"]
    assert set(lab_and_tex) == {"max_relative_error", "expectation_z_score", "tex_residual"}
