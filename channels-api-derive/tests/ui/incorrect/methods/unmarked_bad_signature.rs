// A function listed in methods(...) that cannot serve as a method, without #[consumer_method] to say why.
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
#[consumer(methods(list, invite))]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

impl Question {
    #[allow(dead_code)]
    async fn invite(_ctx: &Context<'_>, _a: i32, _b: i32) -> Result<(), ApiError> {
        Ok(())
    }
}

fn main() {}
