// An enum is not a model.
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
pub enum Question {
    Open,
    Closed,
}

fn main() {}
