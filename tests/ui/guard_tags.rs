// Each function has one bad tag; each error points at it.

#[tokengate::guard(wieght = Medium)]
fn unknown_tag() {}

#[tokengate::guard(weight = Meduim)]
fn misspelled_weight() {}

#[tokengate::guard(weight = "Medium")]
fn quoted_weight() {}

#[tokengate::guard(storage_speed = Quick)]
fn misspelled_storage_speed() {}

#[tokengate::guard(weight = Light, op = "a", weight = Heavy)]
fn duplicate_tag() {}

#[tokengate::guard(sticky_anchor = "a", external_calls = ["child"])]
fn sticky_and_lead() {}

#[tokengate::guard(external_calls = ["child"], sticky_anchor = "a")]
fn lead_and_sticky() {}

#[tokengate::guard(storage_speed = Moderate, sticky_anchor = "a")]
fn storage_and_sticky() {}

#[tokengate::guard(external_calls = ["child"], storage_speed = Fast)]
fn lead_and_storage() {}

#[tokengate::guard(deadline = "50 parsecs")]
fn bad_deadline() {}

#[tokengate::guard(deadline = 50)]
fn unquoted_deadline() {}

#[tokengate::guard(op = data_processing)]
fn unquoted_op() {}

#[tokengate::guard(external_calls = "child")]
fn calls_not_a_list() {}

#[tokengate::guard(weight)]
fn tag_without_value() {}

#[tokengate::guard(on = "GATE")]
fn on_not_a_path() {}

fn main() {}
