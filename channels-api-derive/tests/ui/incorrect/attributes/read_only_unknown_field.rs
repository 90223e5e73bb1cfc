// read_only(...) naming a field that does not exist.
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
#[consumer(read_only(idd))]
pub struct Question {
    pub id: i32,
    pub question_text: String,
}

fn main() {}
