"wschat.v1.json";
