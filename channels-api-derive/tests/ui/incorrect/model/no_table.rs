// A model that names no table.
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
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
