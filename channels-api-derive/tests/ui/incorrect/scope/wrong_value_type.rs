// A scope comparing a field with a value of another type: a type mismatch.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        todos (id) {
            id -> Integer,
            owner_id -> Integer,
            title -> Text,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::todos)]
#[consumer(scope(owner_id), queryset = Todo::own)]
pub struct Todo {
    #[consumer(read_only)]
    pub id: i32,
    pub owner_id: i32,
    pub title: String,
}

impl Todo {
    fn own(_ctx: &Context<'_>) -> Result<Scope, ApiError> {
        Ok(Scope::all().and(Todo::fields().owner_id().eq("alice")))
    }
}

fn main() {}
