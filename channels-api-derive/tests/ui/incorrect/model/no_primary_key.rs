// A model without an id field or a primary_key attribute.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
            question_text -> Text,
        }
    }
}

#[derive(Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
pub struct Question {
    pub question_text: String,
}

fn main() {}
