//! Field validation with the `validator` crate: the `#[validate(...)]` attributes of a
//! model's fields run on what `create`, `update` and `patch` read, and each failure becomes
//! a message under the field's name.

use validator::{Validate, ValidationError, ValidationErrorsKind};

use crate::error::{ApiError, Errors};

/// Validates `value`, naming each field by its name on the wire (`names` maps Rust field
/// names to wire names).
pub fn validate_fields<T: Validate>(
    value: &T,
    names: &[(&str, &'static str)],
) -> Result<(), ApiError> {
    let Err(failures) = value.validate() else {
        return Ok(());
    };
    let mut errors = Errors::new();
    for (field, kind) in failures.errors() {
        let name = match names.iter().find(|(rust, _)| *rust == field.as_ref()) {
            Some((_, wire)) => (*wire).to_owned(),
            None if field == "__all__" => Errors::NON_FIELD.to_owned(),
            None => field.to_string(),
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    errors.add(name.clone(), message(error));
                }
            }
            ValidationErrorsKind::Struct(_) | ValidationErrorsKind::List(_) => {
                errors.add(name, "is invalid");
            }
        }
    }
    errors.into_result()
}

/// The error's own message, or a sentence made from its code and parameters.
fn message(error: &ValidationError) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    let param = |name: &str| error.params.get(name).map(|v| v.to_string());
    match error.code.as_ref() {
        "length" => match (param("min"), param("max"), param("equal")) {
            (_, _, Some(equal)) => format!("must be exactly {equal} characters long"),
            (Some(min), Some(max), _) => format!("must be between {min} and {max} characters long"),
            (Some(min), None, _) => format!("must be at least {min} characters long"),
            (None, Some(max), _) => format!("must be at most {max} characters long"),
            _ => "has the wrong length".to_owned(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".to_owned(),
        },
        "email" => "enter a valid email address".to_owned(),
        "url" => "enter a valid URL".to_owned(),
        "contains" => match param("needle") {
            Some(needle) => format!("must contain {needle}"),
            None => "is missing a required part".to_owned(),
        },
        "does_not_contain" => match param("needle") {
            Some(needle) => format!("must not contain {needle}"),
            None => "contains a forbidden part".to_owned(),
        },
        "regex" => "has an invalid format".to_owned(),
        "must_match" => match param("other") {
            Some(other) => format!("must match {other}"),
            None => "must match".to_owned(),
        },
        code => format!("is invalid ({code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Validate)]
    struct Signup {
        #[validate(length(min = 1, max = 5))]
        name: String,
        #[validate(email)]
        email: String,
        #[validate(range(min = 18))]
        age: u32,
    }

    #[test]
    fn names_fields_on_the_wire_with_sentences() {
        let signup = Signup {
            name: String::new(),
            email: "nope".into(),
            age: 3,
        };
        let error = validate_fields(&signup, &[("name", "display_name")]).unwrap_err();
        assert_eq!(error.status(), 400);
        let errors = error.errors();
        assert_eq!(
            errors.get("display_name").unwrap(),
            ["must be between 1 and 5 characters long"]
        );
        assert_eq!(
            errors.get("email").unwrap(),
            ["enter a valid email address"]
        );
        assert_eq!(errors.get("age").unwrap(), ["must be at least 18"]);
    }
}
