// A misspelled field option.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
            question_text -> Text,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
pub struct Question {
    #[consumer(readonly)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
