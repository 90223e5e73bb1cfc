// A permission that is not a Permission of the model.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
            question_text -> Text,
        }
    }
}

pub struct Nobody;

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
#[consumer(permission = Nobody)]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
