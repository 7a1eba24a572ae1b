//! What every resource does the same way, done once from what its schema declares, in the
//! manner of terraform-plugin-framework: validation runs the attributes' validators; the plan
//! applies defaults, turns computed values unknown, applies the plan modifiers, and only then
//! runs the resource's own plan logic; apply dispatches to create, update or delete; a destroy
//! plan passes through, with the resource's refusal if it has one. Resources read and write
//! their states through typed models ([`model!`]).
//!
//! A new resource declares:
//! - a [`model!`] of its attributes: each one's name, Rust type (the schema type follows from
//!   it), kind (required, optional, optional and computed, computed) and description, with
//!   `.with_default(..)`, `.requires_replace()`, `.use_state_for_unknown()` and validators
//!   (`.validate(..)`, `.validate_str(..)`, see [`validators`]) where they apply;
//! - a [`Resource`]: its type name and schema (the model's attributes), its own plan logic,
//!   create, update, delete, read and import; checks across attributes (`validate`) and a
//!   refusal to be destroyed (`refuse_destroy`) if it has them;
//! - one line in `resources::all()`. Docs, validation, defaults and replacement follow.
//!
//! A data source declares a model and a [`DataSource`] (its type name, schema and read), and
//! one line in `resources::data_sources()`.

mod model;
mod plan;
pub mod validators;

use std::collections::BTreeMap;

pub(crate) use model::model;
pub use model::{Field, FieldType};
pub use plan::plan_declared;

use super::Context;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, AttributeType, Nesting, Schema};
use crate::tfplugin::value::Value;
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, ImportResponse, MoveRequest, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
};

/// A plan under way: what the declared steps made of the proposed state, for the resource's
/// own plan logic to finish.
pub struct Plan {
    pub prior: Value,
    pub config: Value,
    /// The planned object; the resource fills in what only it can know.
    pub state: BTreeMap<String, Value>,
    pub requires_replace: Vec<AttrPath>,
    pub private: Vec<u8>,
    /// Validation's findings so far: with errors, the resource skips its live checks.
    pub diagnostics: Diagnostics,
}

impl Plan {
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }

    pub fn replaces(&self) -> bool {
        !self.requires_replace.is_empty()
    }

    pub fn planned(&self) -> Value {
        Value::Object(self.state.clone())
    }
}

#[tonic::async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Checks across attributes, after the schema's validators; unknown values are skipped.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// The resource's own plan logic, run on what the declared steps planned.
    async fn plan(&self, ctx: &Context, plan: &mut Plan);
    /// Why destroying this state must be refused, if it must (deletion protection).
    fn refuse_destroy(&self, _prior: &Value) -> Option<Diagnostic> {
        None
    }
    /// A state of an older schema version (decoded with the current schema: attributes it
    /// lacks are null), as the current version writes it.
    fn upgrade_state(&self, version: i64, _state: Value) -> Result<Value, Diagnostic> {
        Err(unsupported_state_version(self.type_name(), version))
    }
    /// The state of a resource a `moved` block brings from another type (perhaps another
    /// provider's), when this resource knows that type; `None` refuses the move. Terraform asks
    /// before configuring the provider, so it comes from the source's state alone; the refresh
    /// that follows reads the rest, as after an import.
    fn move_state(&self, _source: &MoveRequest) -> Option<Result<Value, Diagnostics>> {
        None
    }
    async fn create(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse;
    async fn update(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse;
    async fn delete(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse;
    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse;
    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse;
}

/// The refusal of a stored state whose schema version no provider version wrote.
pub fn unsupported_state_version(type_name: &str, version: i64) -> Diagnostic {
    Diagnostic::error(
        "Unsupported state version",
        format!("No provider version wrote {type_name} states with schema version {version}."),
    )
}

/// A data source: a configuration in, the same with its computed attributes filled in out.
#[tonic::async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Checks across attributes, after the schema's validators.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    async fn read(&self, ctx: &Context, config: Value) -> Result<Value, Diagnostics>;
}

/// Every validator a data source's schema declares, then its own checks.
pub fn validate_data_source(data_source: &dyn DataSource, config: &Value) -> Diagnostics {
    let mut diagnostics = validate_attributes(&data_source.schema().block.attributes, config);
    diagnostics.extend(data_source.validate(config));
    diagnostics
}

/// Every validator the schema declares, then the resource's own checks.
pub fn validate(resource: &dyn Resource, config: &Value) -> Diagnostics {
    let mut diagnostics = validate_attributes(&resource.schema().block.attributes, config);
    diagnostics.extend(resource.validate(config));
    diagnostics
}

/// Every validator of these attributes (nested ones included) on a configuration object.
pub fn validate_attributes(attributes: &[Attribute], config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    run_validators(attributes, config, &AttrPath::default(), &mut diagnostics);
    diagnostics
}

fn run_validators(attributes: &[Attribute], object: &Value, at: &AttrPath, diagnostics: &mut Diagnostics) {
    for attribute in attributes {
        let value = object.attr(&attribute.name);
        let path = at.clone().attr(&attribute.name);
        if let AttributeType::Nested(Nesting::Single, inner) = &attribute.ty
            && matches!(value, Value::Object(_))
        {
            run_validators(inner, value, &path, diagnostics);
        }
        if value.is_null() || !value.is_wholly_known() {
            continue;
        }
        for validator in &attribute.validators {
            if let Err(why) = (validator.check)(value) {
                diagnostics.push(Diagnostic::error(validator.summary, why).at(path.clone()));
            }
        }
    }
}

pub async fn plan(resource: &dyn Resource, ctx: &Context, request: PlanRequest) -> PlanResponse {
    let PlanRequest { prior_state, proposed_new_state, config, prior_private, .. } = request;
    if proposed_new_state.is_null() {
        return PlanResponse {
            planned_state: Value::Null,
            planned_private: prior_private,
            diagnostics: resource.refuse_destroy(&prior_state).map(Diagnostics::from).unwrap_or_default(),
            ..Default::default()
        };
    }
    let diagnostics = validate(resource, &config);
    let Value::Object(proposed) = proposed_new_state else {
        return PlanResponse {
            diagnostics: Diagnostic::error("Invalid plan", "The proposed state is not an object.").into(),
            ..Default::default()
        };
    };
    let (state, requires_replace) = plan_declared(&resource.schema().block, &prior_state, &config, proposed);
    let mut plan = Plan { prior: prior_state, config, state, requires_replace, private: prior_private, diagnostics };
    resource.plan(ctx, &mut plan).await;
    PlanResponse {
        planned_state: Value::Object(plan.state),
        requires_replace: plan.requires_replace,
        planned_private: plan.private,
        diagnostics: plan.diagnostics,
    }
}

/// A state with one attribute set: what apply learned that the plan could not know (an ID
/// whose parts were unknown then).
pub fn with_attribute(state: Value, name: &str, value: Value) -> Value {
    match state {
        Value::Object(mut object) => {
            object.insert(name.to_string(), value);
            Value::Object(object)
        }
        other => other,
    }
}

/// Apply as create, update or delete, from which of the prior and planned states exist.
pub async fn apply(resource: &dyn Resource, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
    if request.planned_state.is_null() {
        if let Some(refusal) = resource.refuse_destroy(&request.prior_state) {
            return ApplyResponse { new_state: request.prior_state, diagnostics: refusal.into(), ..Default::default() };
        }
        resource.delete(ctx, request).await
    } else if request.prior_state.is_null() {
        resource.create(ctx, request).await
    } else {
        resource.update(ctx, request).await
    }
}
