use super::*;
use tributary_model::attr::AttributeValue;
use tributary_model::SystemClock;

fn table(name: &str, id: u64) -> TableMeta {
    TableMeta {
        name: name.into(),
        id,
        arn: format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}"),
        table_id_uuid: "u".into(),
        key_schema: KeySchema {
            hash: KeyAttr {
                name: "pk".into(),
                ty: "S".into(),
            },
            range: None,
        },
        attribute_definitions: vec![],
        billing_mode: "PAY_PER_REQUEST".into(),
        read_capacity: 0,
        write_capacity: 0,
        created_ms: 0,
        stream_arn: None,
        latest_stream_arn: None,
        latest_stream_label: None,
        item_count: 0,
        size_bytes: 0,
        extra: Default::default(),
    }
}

fn item(pk: &str) -> Item {
    [("pk".to_string(), AttributeValue::S(pk.into()))]
        .into_iter()
        .collect()
}

#[tokio::test]
async fn item_and_record_commit_together_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SystemClock::new();
    let iid;
    {
        let store = Store::open(Some(dir.path()), clock.clone()).unwrap();
        let stream = store
            .write(|tx| {
                let id = tx.next_id();
                let t = table("T", id);
                tx.put_table(t.clone())?;
                let s =
                    tx.create_stream(&t, "arn:s".into(), "label".into(), StreamViewType::NewImage)?;
                let mut t = t;
                t.stream_arn = Some(s.arn.clone());
                tx.put_table(t)?;
                Ok(s)
            })
            .await
            .unwrap();
        iid = stream.shards[0].iid;
        let mut watch = store.watch_shard(iid);
        for i in 0..10 {
            store
                .write(move |tx| {
                    let it = item(&format!("k{i}"));
                    let id = tx.catalog().tables["T"].id;
                    tx.set_item("T", id, format!("k{i}").as_bytes(), None, Some(&it))?;
                    tx.append_stream_record("T", it.clone(), None, Some(&it), false)
                })
                .await
                .unwrap();
        }
        watch.changed().await.unwrap();
        assert!(*watch.borrow() > 0);
        store.close();
    }
    let store = Store::open(Some(dir.path()), clock).unwrap();
    let recs = store.read_records(iid, 0, 100).unwrap();
    assert_eq!(recs.len(), 10);
    assert!(recs.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(store.catalog().tables["T"].item_count, 10);
    let id = store.catalog().tables["T"].id;
    assert_eq!(store.scan_items(id, None, 100).unwrap().len(), 10);
    assert_eq!(store.last_sequence(iid).unwrap(), Some(recs[9].sequence));
    // Sequence numbers keep increasing after a reopen.
    let next = store.write(|tx| Ok(tx.catalog().next_seq)).await.unwrap();
    assert_eq!(next, recs[9].sequence);
}

#[tokio::test]
async fn failed_job_returns_its_error_and_others_commit() {
    let store = Store::open(None, SystemClock::new()).unwrap();
    let a = store.write(|tx| tx.put_doc("fn", "a", serde_json::json!({"x": 1})));
    let b = store.write(|_| -> Result<(), AwsError> { Err(AwsError::validation("nope")) });
    let (a, b) = tokio::join!(a, b);
    assert!(a.is_ok());
    assert_eq!(b.unwrap_err().message, "nope");
    assert_eq!(
        store.catalog().doc("fn", "a"),
        Some(&serde_json::json!({"x": 1}))
    );
}
