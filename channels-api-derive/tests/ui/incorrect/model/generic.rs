// A generic model.
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
pub struct Question<T> {
    pub id: i32,
    pub question_text: T,
}

fn main() {}
