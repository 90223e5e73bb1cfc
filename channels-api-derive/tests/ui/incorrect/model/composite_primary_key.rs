// A composite primary key.
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
#[diesel(table_name = schema::questions, primary_key(id, question_text))]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
