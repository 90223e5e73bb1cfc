// A field whose Rust type does not match its column's SQL type (`Text`).
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
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: i32,
}

fn main() {}
