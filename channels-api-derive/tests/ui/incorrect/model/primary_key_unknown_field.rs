// primary_key naming a field that does not exist.
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
#[diesel(table_name = schema::questions, primary_key(uid))]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
