fn main() {
    println!("synap-loadtest: not built yet");
}
